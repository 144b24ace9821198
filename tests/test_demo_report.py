"""Demo report: numbers equal score_metrics on the same input; HTML holds the table and images."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from selfrat_eval.demo.report import ReportError, paired_bootstrap_diff, summarize, write_report
from selfrat_eval.metrics import confusion_matrix, score_metrics


def _noisy(gold, noise, rng, fail=0.0):
    out = []
    for g in gold:
        if rng.random() < fail:
            out.append(None)
        else:
            out.append(float(min(5, max(1, g + round(rng.gauss(0, noise))))))
    return out


@pytest.fixture(scope="module")
def results():
    rng = random.Random(0)
    gold = [1 + (i % 5) for i in range(60)]
    judges = [
        ("SFT seed", "sft", 0, 1.6, 0.1),
        ("SC@8", "baseline", None, 1.3, 0.0),
        ("BoN@8", "baseline", None, 1.4, 0.05),
        ("SRE iter 1", "sre", 1, 0.9, 0.05),
        ("SRE iter 2", "sre", 2, 0.5, 0.0),
    ]
    return {
        "title": "test report",
        "items": [{"id": f"i{i}", "instruction": f"instr {i}", "response": f"resp {i}", "gold": g}
                  for i, g in enumerate(gold)],
        "judges": [
            {"name": n, "role": r, "iteration": it, "predictions": _noisy(gold, s, rng, f),
             "rationales": [f"{n} rationale {i} <b>" for i in range(len(gold))]}
            for n, r, it, s, f in judges
        ],
        "before": "SFT seed",
        "after": "SRE iter 2",
        "comparisons": [["SRE iter 2", "SFT seed"], ["SRE iter 2", "SC@8"]],
        "extra_tables": {"RewardBench Chat slice": {"SFT seed": {"accuracy": 0.5, "n": 10}}},
        "meta": {"preset": "test"},
    }


def test_metrics_equal_score_metrics(results, tmp_path):
    paths = write_report(results, tmp_path, bootstrap=200, seed=3)
    report = json.loads(paths["json"].read_text())
    gold = [it["gold"] for it in results["items"]]
    assert [j["name"] for j in report["judges"]] == [j["name"] for j in results["judges"]]
    for got, judge in zip(report["judges"], results["judges"], strict=True):
        want = score_metrics(judge["predictions"], gold, bootstrap=200, seed=3)
        for key in ("n", "n_valid", "n_failed", "parse_rate", "pearson", "spearman", "accuracy", "mae"):
            assert got["metrics"][key] == pytest.approx(want[key], nan_ok=True), (judge["name"], key)
        assert got["metrics"]["ci"]["pearson"] == pytest.approx(want["ci"]["pearson"])
        assert got["confusion_matrix"] == confusion_matrix(judge["predictions"], gold)
    sft = report["judges"][0]["metrics"]
    assert sft["n_failed"] == sum(p is None for p in results["judges"][0]["predictions"]) > 0


def test_html_has_table_images_and_samples(results, tmp_path):
    paths = write_report(results, tmp_path, bootstrap=100)
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 2  # iteration curve + confusion matrices
    for name in ("SFT seed", "SC@8", "BoN@8", "SRE iter 1", "SRE iter 2", "RewardBench Chat slice"):
        assert name in page
    assert "Pearson [95% CI]" in page and "parse rate" in page
    assert "SRE iter 2 rationale" in page and "&lt;b&gt;" in page  # rationales shown, escaped
    report = json.loads(paths["json"].read_text())
    assert len(report["samples"]) == 3
    s = report["samples"][0]
    gold = s["gold"]
    # the first sample is one the after-judge gets right and the before-judge gets wrong
    assert s["after"]["score"] == gold and s["before"]["score"] != gold


def test_paired_bootstrap_diff_matches_point_estimates_and_is_seeded(results):
    gold = [it["gold"] for it in results["items"]]
    a = results["judges"][4]["predictions"]
    b = results["judges"][0]["predictions"]
    d = paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=1)
    assert d["pearson_a"] == pytest.approx(score_metrics(a, gold)["pearson"])
    assert d["pearson_b"] == pytest.approx(score_metrics(b, gold)["pearson"])
    assert d["diff"] == pytest.approx(d["pearson_a"] - d["pearson_b"])
    assert d["ci"][0] < d["diff"] < d["ci"][1]
    assert d["ci"][0] > 0  # a much better judge: the CI excludes 0
    assert paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=1) == d
    assert paired_bootstrap_diff(a, b, gold, n_resamples=500, seed=2)["ci"] != d["ci"]
    # identical judges: difference exactly 0 in every resample
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


def test_constant_predictions_give_nan_not_crash(tmp_path):
    res = {
        "items": [{"id": str(i), "gold": 1 + i % 5} for i in range(10)],
        "judges": [{"name": "const", "predictions": [3.0] * 10}, {"name": "none", "predictions": [None] * 10}],
        "comparisons": [["const", "none"]],
    }
    paths = write_report(res, tmp_path, bootstrap=50)
    report = json.loads(paths["json"].read_text())
    assert math.isnan(report["judges"][0]["metrics"]["pearson"])
    assert report["judges"][1]["metrics"]["parse_rate"] == 0
    assert math.isnan(report["comparisons"][0]["diff"])
    assert "n/a" in paths["html"].read_text()


def test_bad_results_named():
    with pytest.raises(ReportError, match="'items'"):
        summarize({"judges": []})
    with pytest.raises(ReportError, match="judge 'x'.*one entry per item"):
        summarize({"items": [{"gold": 1}], "judges": [{"name": "x", "predictions": [1, 2]}]})
    with pytest.raises(ReportError, match="no judge named 'y'"):
        summarize({"items": [{"gold": 1}], "judges": [{"name": "x", "predictions": [1]}],
                   "comparisons": [["x", "y"]]})
