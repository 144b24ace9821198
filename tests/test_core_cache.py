"""Generation cache: a damaged line costs only its own regeneration, with one warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from selfrat_eval.generation.base import Sample, SamplingConfig
from selfrat_eval.runner.cache import GenerationCache


def _filled(path: Path, n: int) -> list[str]:
    cache = GenerationCache(path, "m")
    keys = [cache.key(f"prompt {i}", 1, 0, SamplingConfig()) for i in range(n)]
    for k in keys:  # one line per entry
        cache.put_many([(k, [Sample(f"text {k[:6]}", (-0.5,), "stop")])])
    return keys


def test_a_corrupt_line_is_skipped_and_the_rest_loads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.jsonl"
    keys = _filled(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1][:20] + b"\xff" + lines[1][21:]  # one 0xFF byte: not UTF-8
    lines[2] = b'{"key": "truncated\n'  # not JSON
    path.write_bytes(b"".join(lines) + b'{"key": "partial last line')
    with caplog.at_level(logging.WARNING, logger="selfrat_eval.runner.cache"):
        cache = GenerationCache(path, "m")
    assert len(cache) == 2 and keys[0] in cache and keys[3] in cache
    assert cache.get(keys[0])[0].text.startswith("text")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage() and "skipped 2 unreadable line(s)" in warnings[0].getMessage()
    assert path.read_bytes().endswith(b"\n")  # the partial last line was cut off
    # the skipped keys are simply generated again and appended
    cache.put_many([(keys[1], [Sample("again")])])
    assert GenerationCache(path, "m").get(keys[1])[0].text == "again"


def test_a_file_without_any_newline_is_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"key": "k", "samples": [["a", null, "stop"]]}')
    assert len(GenerationCache(path, "m")) == 0 and path.read_bytes() == b""
