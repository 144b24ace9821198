"""HTML reports: self-contained pages with embedded plots, single run and side-by-side comparison."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_runner import FakeBackend, write_custom_data, write_rewardbench_data

from selfrat_eval.generation.base import SamplingConfig
from selfrat_eval.runner.config import RunConfig
from selfrat_eval.runner.evaluate import run_evaluation
from selfrat_eval.runner.report import headline, render_report, write_report


def _run(tmp_path: Path, name: str, **kw) -> Path:
    base = dict(
        judge="fake",
        out=str(tmp_path / name),
        strategy="self-consistency",
        n=3,
        sampling=SamplingConfig(max_new_tokens=8),
        no_cache=True,
        bootstrap=30,
        show_progress=False,
    )
    base.update(kw)
    run_evaluation(RunConfig(**base), FakeBackend(fail_every=4, model_id=name))
    return tmp_path / name


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    custom = write_custom_data(tmp_path / "items.jsonl", n=20)
    rb = write_rewardbench_data(tmp_path / "rb.jsonl", n=8)
    return {
        "a": _run(tmp_path, "a", benchmark="custom", data=str(custom), rubric="helpfulness"),
        "b": _run(
            tmp_path, "b", benchmark="custom", data=str(custom), rubric="helpfulness", sc_method="mean"
        ),
        "rb": _run(tmp_path, "rb", benchmark="rewardbench", data=str(rb)),
    }


def _images(page: str) -> list[str]:
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_single_run_report_is_self_contained(runs: dict[str, Path]) -> None:
    page = (runs["a"] / "report.html").read_text()
    assert "<script" not in page and 'src="http' not in page
    images = _images(page)
    assert len(images) == 3  # groups with CIs, confusion matrix, score distribution
    import base64

    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "pearson" in page and "confusion matrix" in page


def test_rewardbench_report_has_sections(runs: dict[str, Path]) -> None:
    page = (runs["rb"] / "report.html").read_text()
    for section in ("Chat", "Chat Hard", "Safety", "Reasoning", "overall"):
        assert section in page
    assert "alpacaeval-easy" in page and len(_images(page)) >= 2
    h = headline(__import__("json").loads((runs["rb"] / "results.json").read_text()))
    assert h["overall"][1] is not None and len(h["overall"][1]) == 2


def test_comparison_report(runs: dict[str, Path], tmp_path: Path) -> None:
    out = write_report([runs["a"], runs["b"]], tmp_path / "cmp" / "report.html")
    page = out.read_text()
    assert "comparison of 2 runs" in page
    assert page.count("<tr><th>a: fake") == 1 and page.count("<tr><th>b: fake") == 1
    assert len(_images(page)) == 1 + 3 + 3  # joint bars + each run's plots
    mixed = render_report([runs["a"], runs["rb"]])
    assert "different kinds of benchmark" in mixed


def test_missing_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="results.json"):
        render_report([tmp_path / "nope"])
