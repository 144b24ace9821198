"""HTML reports: self-contained pages with embedded plots, single run and side-by-side comparison."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_runner import FakeBackend, write_custom_data, write_rewardbench_data

from selfrat_eval.protocols import BenchmarkOptions, StrategyConfig
from selfrat_eval.results import load_results
from selfrat_eval.runner.config import RunConfig
from selfrat_eval.runner.evaluate import run_evaluation
from selfrat_eval.runner.report import headline, render_report, write_report


def _run(tmp_path: Path, name: str, *, benchmark: str, sc_method: str = "majority", **options) -> Path:
    cfg = RunConfig(
        judge="fake",
        benchmark=benchmark,
        out=str(tmp_path / name),
        options=BenchmarkOptions(**options),
        strategy=StrategyConfig("self-consistency", n=3, sc_method=sc_method),
        max_new_tokens=8,
        no_cache=True,
        bootstrap=30,
        show_progress=False,
    )
    run_evaluation(cfg, FakeBackend(fail_every=4, model_id=name))
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
    assert len(images) == 4  # groups with CIs, confusion matrix, score distribution, calibration
    import base64

    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "pearson" in page and "confusion matrix" in page


def test_rewardbench_report_has_sections(runs: dict[str, Path]) -> None:
    page = (runs["rb"] / "report.html").read_text()
    for section in ("chat", "chat_hard", "safety", "reasoning", "score"):
        assert section in page
    assert "acc_alpacaeval-easy" in page and len(_images(page)) >= 2
    h = headline(load_results(runs["rb"]))
    assert h["score"][1] is not None and len(h["score"][1]) == 2


def test_comparison_report(runs: dict[str, Path], tmp_path: Path) -> None:
    out = write_report([runs["a"], runs["b"]], tmp_path / "cmp" / "report.html")
    page = out.read_text()
    assert "comparison of 2 runs" in page
    assert page.count("<tr><th>a: fake") == 1 and page.count("<tr><th>b: fake") == 1
    assert len(_images(page)) == 2 + 4 + 4  # joint bars and calibration + each run's plots
    mixed = render_report([runs["a"], runs["rb"]])
    assert "different kinds of benchmark" in mixed


def test_missing_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="results.json"):
        render_report([tmp_path / "nope"])


def test_calibration_points_bin_predictions() -> None:
    from selfrat_eval.runner.report import calibration_points

    pts = calibration_points([1.0, 1.2, None, 4.8, 5.0], [1, 2, 3, 5, 4], bins=2)
    assert pts == [(1.1, 1.5, 2), (4.9, 4.5, 2)]
