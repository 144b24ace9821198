"""``selfrat evaluate`` / ``selfrat report`` end to end on the tiny model, plus clear user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_runner import write_custom_data

from selfrat_eval.cli import main

COMMON = ["--max-new-tokens", "12", "--bootstrap", "50", "--no-progress"]


def _evaluate(tmp_path: Path, *args: str) -> int:
    return main(["evaluate", *args, "--cache-dir", str(tmp_path / "cache"), *COMMON])


@pytest.mark.slow
def test_custom_benchmark_end_to_end_and_cache(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=6)
    out = tmp_path / "runs" / "sc"
    args = [
        "--judge",
        str(tiny_model_dir),
        "--benchmark",
        "custom",
        "--data",
        str(data),
        "--rubric",
        "helpfulness",
        "--strategy",
        "self-consistency",
        "--n",
        "3",
        "--max-retries",
        "1",
        "--out",
        str(out),
        "--seed",
        "3",
    ]
    assert _evaluate(tmp_path, *args) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["generation"]["n_samples"] == 18 and res["generation"]["cache_misses"] > 0
    assert res["model"]["prompt_format"] == "chat"
    # random weights: outputs do not parse, and that is counted, never scored
    assert res["metrics"]["n"] == 6
    assert res["generation"]["failed_first_pass"] + (18 - res["generation"]["failed_first_pass"]) == 18
    assert all(
        i["result"]["pred"] is None for i in res["items"] if i["requests"]["score"]["decision"]["n_failed"] == 3
    )
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    # same run with another aggregation: all cache hits, identical judgments
    out2 = tmp_path / "runs" / "mean"
    assert _evaluate(tmp_path, *args[:-4], "--out", str(out2), "--sc-method", "median", "--seed", "3") == 0
    res2 = json.loads((out2 / "results.json").read_text())
    assert res2["generation"]["cache_misses"] == 0
    assert [i["requests"]["score"]["draws"] for i in res2["items"]] == [
        i["requests"]["score"]["draws"] for i in res["items"]
    ]
    capsys.readouterr()
    assert main(["report", str(out), str(out2), "--out", str(tmp_path / "cmp.html")]) == 0
    cmp_html = (tmp_path / "cmp.html").read_text()
    assert "comparison of 2 runs" in cmp_html and cmp_html.count("data:image/png;base64,") >= 3


@pytest.mark.slow
@pytest.mark.shared_data
def test_rewardbench_slice_pairwise_and_pointwise(
    tmp_path: Path, tiny_model_dir: Path, rewardbench_chat_file: Path
) -> None:
    for mode, strategy in (("pointwise", "greedy"), ("pairwise", "best-of-n")):
        out = tmp_path / mode
        extra = ["--n", "2"] if strategy != "greedy" else []
        code = _evaluate(
            tmp_path,
            "--judge",
            str(tiny_model_dir),
            "--benchmark",
            "rewardbench",
            "--data",
            str(rewardbench_chat_file),
            "--limit",
            "3",
            "--mode",
            mode,
            "--strategy",
            strategy,
            *extra,
            "--out",
            str(out),
        )
        assert code == 0
        res = json.loads((out / "results.json").read_text())
        m = res["metrics"]
        assert res["benchmark"] == "rewardbench" and res["config"]["options"]["mode"] == mode and m["n"] == 3
        assert 0.0 <= m["score"] <= 1.0
        keys = {"pointwise": {"chosen", "rejected"}, "pairwise": {"chosen_first", "chosen_second"}}[mode]
        assert set(res["items"][0]["requests"]) == keys
        assert res["data"]["revision"].startswith("sha256:")
        assert (out / "report.html").is_file()


def test_bad_inputs_exit_with_clear_errors(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=2)
    out = str(tmp_path / "run")
    assert (
        _evaluate(
            tmp_path,
            "--judge",
            str(tmp_path / "no-such-judge"),
            "--benchmark",
            "custom",
            "--data",
            str(data),
            "--rubric",
            "helpfulness",
            "--out",
            out,
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        _evaluate(
            tmp_path,
            "--judge",
            str(tiny_model_dir),
            "--benchmark",
            "custom",
            "--data",
            str(data),
            "--rubric",
            "no-such-rubric",
            "--out",
            out,
        )
        == 2
    )
    assert "unknown rubric" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "q", "score": 3}\n')
    assert (
        _evaluate(
            tmp_path,
            "--judge",
            str(tiny_model_dir),
            "--benchmark",
            "custom",
            "--data",
            str(bad),
            "--rubric",
            "helpfulness",
            "--out",
            out,
        )
        == 2
    )
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("selfrat evaluate: error:") and "bad.jsonl" in last and "row 1" in last and "response" in last
    assert _evaluate(tmp_path, "--judge", str(tiny_model_dir), "--benchmark", "custom", "--out", out) == 2
    assert "data file" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing-run"), "--out", str(tmp_path / "r.html")]) == 2
    assert "results.json" in capsys.readouterr().err


def test_report_refuses_to_overwrite_and_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers_runner import FakeBackend

    from selfrat_eval.protocols import BenchmarkOptions
    from selfrat_eval.runner.config import RunConfig
    from selfrat_eval.runner.evaluate import run_evaluation

    data = write_custom_data(tmp_path / "items.jsonl", n=4)
    cfg = RunConfig(
        judge="fake", benchmark="custom", out=str(tmp_path / "run"),
        options=BenchmarkOptions(data=str(data), rubric="helpfulness"), no_cache=True, bootstrap=0, show_progress=False,
    )
    run_evaluation(cfg, FakeBackend())
    existing = tmp_path / "report.html"
    existing.write_text("keep me")
    assert main(["report", str(tmp_path / "run"), "--out", str(existing)]) == 2
    assert "--force" in capsys.readouterr().err and existing.read_text() == "keep me"
    assert main(["report", str(tmp_path / "run"), "--out", str(existing), "--force"]) == 0
    assert existing.read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    # --no-report on a re-used folder removes the stale report of the earlier run
    assert (tmp_path / "run" / "report.html").is_file()
    from dataclasses import replace

    run_evaluation(replace(cfg, report=False), FakeBackend())
    assert not (tmp_path / "run" / "report.html").exists()
