"""On-disk generation cache: append-only JSONL, one file per model, flushed after every batch.

A record maps ``key = sha256(model, prompt, n, seed, sampling)`` to the N samples generated for
it. Because the key holds nothing about parsing, aggregation or metrics, re-running with another
strategy aggregation (majority -> mean) or another metric reuses the generations.

Crash safety: lines are written whole and flushed per batch; a run killed mid-write leaves at most
one partial last line, which is cut off when the file is opened again, so a resumed run loses only
the batch that was in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..generation.base import Prompt, Sample, SamplingConfig

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".json", ".model", ".pt")


def default_cache_dir() -> Path:
    """``$SELFRAT_CACHE`` or ``~/.cache/selfrat-eval/generations``."""
    env = os.environ.get("SELFRAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "selfrat-eval" / "generations"


def model_fingerprint(*paths: str | os.PathLike[str] | None) -> str:
    """Names, sizes and modification times of a local model's (and adapter's) weight/config files.

    Retraining ``./my-judge`` in place changes the fingerprint, so stale generations are not
    reused. Hub ids and server model names have no local files and fingerprint as ``""``.
    """
    parts: list[str] = []
    for raw in paths:
        if raw is None:
            continue
        path = Path(os.path.expanduser(str(raw)))
        files = [path] if path.is_file() else sorted(path.glob("*")) if path.is_dir() else []
        for f in files:
            if f.is_file() and f.suffix in WEIGHT_SUFFIXES:
                st = f.stat()
                parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16] if parts else ""


def generation_key(model_key: str, prompt: Prompt, n: int, seed: int, sampling: SamplingConfig) -> str:
    payload = {
        "model": model_key,
        "prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt],
        "n": n,
        "seed": seed,
        "sampling": asdict(sampling),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _encode(samples: Sequence[Sample]) -> list[list[Any]]:
    return [
        [s.text, list(s.token_logprobs) if s.token_logprobs is not None else None, s.finish_reason]
        for s in samples
    ]


def _decode(rows: Iterable[Sequence[Any]]) -> list[Sample]:
    return [Sample(t, tuple(lp) if lp is not None else None, fr) for t, lp, fr in rows]


def _cut_partial_last_line(path: Path) -> None:
    """Cut off a partial last line (a run killed mid-write), reading only the end of the file."""
    with open(path, "r+b") as f:
        size = pos = f.seek(0, os.SEEK_END)
        end = 0
        while pos > 0:
            step = min(1 << 16, pos)
            pos -= step
            f.seek(pos)
            newline = f.read(step).rfind(b"\n")
            if newline >= 0:
                end = pos + newline + 1
                break
        if end < size:
            f.truncate(end)


class GenerationCache:
    """Generations of one model; ``path=None`` keeps them in memory only (``--no-cache``)."""

    def __init__(self, path: str | os.PathLike[str] | None, model_key: str) -> None:
        self.path = Path(path) if path is not None else None
        self.model_key = model_key
        self._data: dict[str, list[Sample]] = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._load()

    @classmethod
    def for_model(cls, cache_dir: str | os.PathLike[str] | None, model_key: str) -> GenerationCache:
        if cache_dir is None:
            return cls(None, model_key)
        name = hashlib.sha256(model_key.encode()).hexdigest()[:20]
        cache = cls(Path(cache_dir) / f"{name}.jsonl", model_key)
        meta = Path(cache_dir) / f"{name}.model.txt"  # which model a file belongs to, for humans
        if not meta.exists():
            meta.write_text(model_key + "\n", encoding="utf-8")
        return cache

    def _load(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            return
        _cut_partial_last_line(self.path)
        # Line by line in binary: one damaged line (a stray 0xFF byte, bad JSON) costs only that
        # line, whose generations are simply made again, instead of every later run.
        skipped = 0
        with open(self.path, "rb") as f:
            for raw in f:
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode("utf-8"))
                    self._data[record["key"]] = _decode(record["samples"])
                except (ValueError, KeyError, TypeError, RecursionError):  # ValueError: bad UTF-8 or JSON
                    skipped += 1
        if skipped:
            log.warning(
                "%s: skipped %d unreadable line(s); their generations will be made again", self.path, skipped
            )

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def key(self, prompt: Prompt, n: int, seed: int, sampling: SamplingConfig) -> str:
        return generation_key(self.model_key, prompt, n, seed, sampling)

    def get(self, key: str) -> list[Sample] | None:
        return self._data.get(key)

    def put_many(self, entries: Sequence[tuple[str, Sequence[Sample]]]) -> None:
        """Store a batch and flush it to disk in one write."""
        lines = []
        for key, samples in entries:
            self._data[key] = list(samples)
            lines.append(json.dumps({"key": key, "samples": _encode(samples)}, ensure_ascii=False))
        if self.path is not None and lines:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
