"""Demo report: reads the runner's results.json files; per-judge numbers are the files' own,
paired differences equal paired_bootstrap_diff on the same items; greedy and expected-score side by
side; calibration; bad inputs named."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from selfrat_eval.demo.report import ReportError, build_summary, paired_bootstrap_diff, write_report
from selfrat_eval.metrics import score_metrics
from selfrat_eval.results import write_results


def _noisy(gold, noise, rng, fail=0.0, continuous=False):
    out = []
    for g in gold:
        if rng.random() < fail:
            out.append(None)
        else:
            x = g + rng.gauss(0, noise)
            out.append(float(min(5, max(1, x if continuous else round(x)))))
    return out


def _run(path: Path, ids, gold, pred, strategy: str) -> str:
    """A minimal pointwise results.json as the runner writes it."""
    m = score_metrics(pred, gold, bootstrap=100, seed=0)
    items = [
        {"id": i, "result": {"id": i, "gold": g, "pred": p, "error": None if p is not None else "no_marker"},
         "requests": {"score": {"draws": [{"text": f"{strategy} rationale {i} <b> [RESULT] {p}"}], "decision": {"selected": 0}}}}
        for i, g, p in zip(ids, gold, pred, strict=True)
    ]
    results = {"schema": 2, "strategy": strategy, "metrics": {k: m[k] for k in ("pearson", "spearman", "kendall", "accuracy",
               "mae", "parse_rate", "n", "n_valid", "n_failed")}, "ci": {k: list(v) for k, v in m["ci"].items()}, "items": items}
    write_results(results, path)  # type: ignore[arg-type]
    return str(path / "results.json")


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    rng = random.Random(0)
    gold = [float(1 + (i % 5)) for i in range(60)]
    ids = [f"i{i}" for i in range(60)]
    spec = [  # name, iteration, greedy noise, expected noise (None = no expected-score run), failure rate
        ("SFT seed", 0, 1.6, 1.3, 0.1),
        ("SC@8", None, 1.3, 1.1, 0.0),
        ("BoN@8", None, 1.4, None, 0.05),
        ("RS-SFT", None, 1.5, 1.2, 0.0),
        ("SRE iter 1", 1, 0.9, 0.8, 0.05),
        ("SRE iter 2", 2, 0.5, 0.4, 0.0),
    ]
    out = []
    for name, it, g_noise, e_noise, fail in spec:
        row = {"name": name, "judge": name.lower().replace(" ", "_"), "iteration": it,
               "greedy": _run(tmp / name / "greedy", ids, gold, _noisy(gold, g_noise, rng, fail), "greedy")}
        if e_noise is not None:
            row["expected"] = _run(tmp / name / "expected", ids, gold, _noisy(gold, e_noise, rng, continuous=True), "expected-score")
        out.append(row)
    return out


def _preds(path: str) -> list[float | None]:
    return [it["result"]["pred"] for it in json.loads(Path(path).read_text())["items"]]


def test_numbers_come_from_the_results_files_and_differences_are_paired(rows, tmp_path):
    summary = build_summary(rows, target="SRE iter 2", baselines=["SFT seed", "SC@8", "BoN@8", "RS-SFT"], bootstrap=300, seed=3)
    paths = write_report(summary, tmp_path)
    report = json.loads(paths["json"].read_text())
    assert [j["name"] for j in report["judges"]] == [r["name"] for r in rows]
    gold = [float(1 + (i % 5)) for i in range(60)]
    for got, row in zip(report["judges"], rows, strict=True):
        saved = json.loads(Path(row["greedy"]).read_text())
        assert got["greedy"]["metrics"]["pearson"] == pytest.approx(saved["metrics"]["pearson"])
        assert got["greedy"]["ci"]["pearson"] == pytest.approx(saved["ci"]["pearson"])
        if "expected" in row:
            want = paired_bootstrap_diff(_preds(row["expected"]), _preds(row["greedy"]), gold, n_resamples=300, seed=3)
            assert got["expected_minus_greedy"]["diff"] == pytest.approx(want["diff"])
            assert got["expected_minus_greedy"]["ci"] == pytest.approx(want["ci"])
            assert got["calibration"] and all(len(p) == 3 for p in got["calibration"])
    comps = {(c["variant"], c["b"]): c for c in report["comparisons"]}
    assert set(comps) == {(v, b) for v in ("greedy", "expected") for b in ("SFT seed", "SC@8", "BoN@8", "RS-SFT")}
    target = {r["name"]: r for r in rows}["SRE iter 2"]
    for (variant, b), c in comps.items():
        base = {r["name"]: r for r in rows}[b]
        b_path = base.get(variant if variant == "greedy" else "expected") or base["greedy"]  # BoN: its only run
        want = paired_bootstrap_diff(_preds(target[variant]), _preds(b_path), gold, n_resamples=300, seed=3)
        assert c["diff"] == pytest.approx(want["diff"]) and c["ci"] == pytest.approx(want["ci"])
        assert c["ci"][0] > 0  # a much better judge: the CI excludes 0
    assert comps[("expected", "BoN@8")]["b_strategy"] == "greedy"


def test_html_shows_both_judging_modes_calibration_and_samples(rows, tmp_path):
    items = {f"i{i}": {"instruction": f"instr {i}", "response": f"resp {i}"} for i in range(60)}
    summary = build_summary(rows, target="SRE iter 2", bootstrap=100, items=items,
                            extra_tables={"RewardBench Chat slice": {"sft": {"accuracy": 0.5, "n_pairs": 10}}})
    page = write_report(summary, tmp_path)["html"].read_text()
    assert page.count("data:image/png;base64,") == 3  # iteration curve, calibration, confusion matrices
    for text in ("greedy: Pearson [95% CI]", "expected-score: Pearson [95% CI]", "expected - greedy Pearson",
                 "Calibration", "RewardBench Chat slice", "SRE iter 2", "BoN@8"):
        assert text in page, text
    assert "&lt;b&gt;" in page and "instr" in page  # rationales and items shown, escaped
    s = summary["samples"][0]
    # the first sample is one the after-judge gets right and the before-judge gets wrong
    assert round(s["after"]["score"]) == s["gold"] and (s["before"]["score"] is None or round(s["before"]["score"]) != s["gold"])


def test_runs_over_different_items_or_missing_judges_are_refused(rows, tmp_path):
    other = _run(tmp_path / "other", [f"x{i}" for i in range(60)], [1.0] * 60, [1.0] * 60, "greedy")
    with pytest.raises(ReportError, match="other items"):
        build_summary([rows[0], {"name": "odd", "greedy": other}], target="odd")
    with pytest.raises(ReportError, match="no judge named"):
        build_summary(rows, target="nobody")
    with pytest.raises(ReportError, match="no greedy run"):
        build_summary([{"name": "x", "greedy": None, "expected": rows[0]["greedy"]}], target="x")
    with pytest.raises(ReportError, match="no results.json"):
        build_summary([{"name": "x", "greedy": str(tmp_path / "missing")}], target="x")


def test_constant_predictions_give_nan_not_crash(tmp_path):
    ids, gold = [str(i) for i in range(10)], [float(1 + i % 5) for i in range(10)]
    rows = [{"name": "const", "greedy": _run(tmp_path / "c", ids, gold, [3.0] * 10, "greedy")},
            {"name": "none", "greedy": _run(tmp_path / "n", ids, gold, [None] * 10, "greedy")}]
    summary = build_summary(rows, target="const", bootstrap=50)
    paths = write_report(summary, tmp_path)
    report = json.loads(paths["json"].read_text())
    assert report["judges"][0]["greedy"]["metrics"]["pearson"] is None  # NaN in results.json is null
    assert report["judges"][1]["greedy"]["metrics"]["parse_rate"] == 0
    assert math.isnan(report["comparisons"][0]["diff"])
    assert "n/a" in paths["html"].read_text()


def test_paired_bootstrap_diff_matches_point_estimates_and_is_seeded():
    rng = random.Random(1)
    gold = [float(1 + i % 5) for i in range(60)]
    a, b = _noisy(gold, 0.5, rng), _noisy(gold, 1.6, rng, fail=0.1)
    d = paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=1)
    assert d["pearson_a"] == pytest.approx(score_metrics(a, gold)["pearson"])
    assert d["pearson_b"] == pytest.approx(score_metrics(b, gold)["pearson"])
    assert d["diff"] == pytest.approx(d["pearson_a"] - d["pearson_b"])
    assert d["ci"][0] < d["diff"] < d["ci"][1] and d["ci"][0] > 0
    assert paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=1) == d
    assert paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=2)["ci"] != d["ci"]
    same = paired_bootstrap_diff(a, a, gold, n_resamples=200, seed=0)
    assert same["diff"] == 0 and same["ci"] == [0.0, 0.0]


def test_paired_bootstrap_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 6, size=40).astype(float)
    pred = [float(x) for x in gold + rng.normal(0, 1, size=40)]
    pred[3] = None  # failures are excluded, like score_metrics
    d = paired_bootstrap_diff(pred, [float(g) for g in gold], gold, n_resamples=10)
    keep = [i for i, p in enumerate(pred) if p is not None]
    want = np.corrcoef([pred[i] for i in keep], gold[keep])[0, 1]
    assert d["pearson_a"] == pytest.approx(want)
    assert d["pearson_b"] == pytest.approx(1.0)


def test_paired_diff_pools_seeds_by_position_so_equal_item_ids_stay_apart(tmp_path, capsys, monkeypatch):
    """benchmarks/paired_diff.py with one results.json per seed (comma-separated): two seeds whose
    held-out ids coincide form one 2n-item paired sample, equal to paired_bootstrap_diff on the
    concatenation; a baseline with a different seed count is refused."""
    import sys

    from helpers_benchmarks import benchmark_script

    script = benchmark_script("paired_diff")
    rng = random.Random(1)
    ids = [f"i{i}" for i in range(40)]  # the same ids in both seeds
    gold = {s: [float(1 + rng.randrange(5)) for _ in ids] for s in (0, 1)}
    target = {s: _noisy(gold[s], 0.7, rng) for s in (0, 1)}
    base = {s: _noisy(gold[s], 1.5, rng) for s in (0, 1)}
    paths = {(name, s): _run(tmp_path / f"{name}{s}", ids, gold[s], preds[s], "greedy")
             for name, preds in (("t", target), ("b", base)) for s in (0, 1)}
    out = tmp_path / "diff.json"
    monkeypatch.setattr(sys, "argv", ["paired_diff.py", f"{paths['t', 0]},{paths['t', 1]}", f"{paths['b', 0]},{paths['b', 1]}",
                                      "--bootstrap", "300", "--out", str(out)])
    assert script.main() == 0
    row = json.loads(out.read_text())["rows"][0]
    order = sorted(((s, i) for s in (0, 1) for i in range(len(ids))), key=lambda k: (k[0], ids[k[1]]))  # (seed, id)
    expected = paired_bootstrap_diff([target[s][i] for s, i in order], [base[s][i] for s, i in order],
                                     [gold[s][i] for s, i in order], n_resamples=300, seed=0)
    assert row["n"] == 80 and row["diff"] == pytest.approx(expected["diff"]) and row["ci"] == pytest.approx(expected["ci"])
    # each seed on its own, and the seeds as replicates over those per-seed differences
    per_seed = [paired_bootstrap_diff(target[s], base[s], gold[s], n_resamples=300, seed=0)["diff"] for s in (0, 1)]
    assert [d["diff"] for d in row["per_seed"]] == pytest.approx(per_seed) and [d["n"] for d in row["per_seed"]] == [40, 40]
    assert row["across_seeds"]["mean"] == pytest.approx(sum(per_seed) / 2) and row["across_seeds"]["n_seeds"] == 2
    monkeypatch.setattr(sys, "argv", ["paired_diff.py", f"{paths['t', 0]},{paths['t', 1]}", paths["b", 0]])
    with pytest.raises(SystemExit, match="1 results files, the target has 2"):
        script.main()
