"""Metrics against scipy and hand-computed RewardBench expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from selfrat_eval import metrics as M
from selfrat_eval.metrics import (
    REWARDBENCH_SECTIONS,
    STATISTICS,
    across_seeds,
    bootstrap_ci,
    bootstrap_distributions,
    confusion_matrix,
    grouped_score_metrics,
    kendall,
    paired_bootstrap_diff,
    pearson,
    rewardbench_scores,
    score_metrics,
    spearman,
    subset_accuracy,
)

PRED = [1, 2, None, 4, 5, 3, None, 2, 4, 5]
GOLD = [1, 3, 4, 4, 4, 3, 2, 1, 5, 5]


def test_correlations_match_scipy_on_parsed_items_only() -> None:
    m = score_metrics(PRED, GOLD)
    keep = [i for i, p in enumerate(PRED) if p is not None]
    x = np.array([PRED[i] for i in keep], float)
    y = np.array([GOLD[i] for i in keep], float)
    assert m["n"] == 10 and m["n_valid"] == 8 and m["n_failed"] == 2
    assert m["parse_rate"] == pytest.approx(0.8)
    assert m["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert m["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert m["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    assert m["accuracy"] == pytest.approx(np.mean(x == y))
    assert m["mae"] == pytest.approx(np.mean(np.abs(x - y)))


def test_float_predictions_round_half_up_for_accuracy() -> None:
    m = score_metrics([2.5, 3.49, 4.0], [3, 3, 4])
    assert m["accuracy"] == pytest.approx(1.0)


def test_undefined_correlations_are_nan_not_zero() -> None:
    m = score_metrics([3, 3, 3], [1, 2, 3])
    assert math.isnan(m["pearson"]) and math.isnan(m["spearman"])
    assert math.isnan(score_metrics([None, None], [1, 2])["pearson"])
    assert score_metrics([None, None], [1, 2])["parse_rate"] == 0.0
    assert math.isnan(pearson([1.0], [2.0]))


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        score_metrics([1, 2], [1])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    gold = rng.integers(1, 6, 200)
    pred = np.clip(gold + rng.integers(-1, 2, 200), 1, 5)
    a = bootstrap_ci(pearson, pred, gold, n_resamples=300, seed=7)
    b = bootstrap_ci(pearson, pred, gold, n_resamples=300, seed=7)
    c = bootstrap_ci(pearson, pred, gold, n_resamples=300, seed=8)
    assert a == b and a != c
    est = pearson(pred, gold)
    assert a[0] < est < a[1] and a[1] - a[0] < 0.2
    m = score_metrics(list(pred), list(gold), bootstrap=200, seed=3)
    assert set(m["ci"]) == {"pearson", "spearman", "kendall", "accuracy", "mae"}
    lo, hi = m["ci"]["accuracy"]
    assert lo <= m["accuracy"] <= hi


def test_grouped_metrics_pooled_and_macro() -> None:
    groups = ["a"] * 5 + ["b"] * 5
    out = grouped_score_metrics(PRED, GOLD, groups)
    assert out["pooled"] == score_metrics(PRED, GOLD)
    assert out["groups"]["a"] == score_metrics(PRED[:5], GOLD[:5])
    assert out["groups"]["b"]["n_failed"] == 1
    assert out["macro"]["pearson"] == pytest.approx(
        (out["groups"]["a"]["pearson"] + out["groups"]["b"]["pearson"]) / 2
    )


def test_confusion_matrix_rows_are_gold() -> None:
    m = confusion_matrix([1, 2, None, 5, 4.6], [1, 1, 3, 5, 5])
    assert m[0] == [1, 1, 0, 0, 0]  # gold 1: predicted 1 once, 2 once
    assert m[4] == [0, 0, 0, 0, 2]  # gold 5: predicted 5 and 4.6 -> 5
    assert sum(map(sum, m)) == 4  # the failure is left out


# ---- RewardBench --------------------------------------------------------------------------------


def test_section_weights_match_hand_computation() -> None:
    acc = {s: 0.0 for subsets in REWARDBENCH_SECTIONS.values() for s in subsets}
    acc.update({"alpacaeval-easy": 1.0, "mt-bench-easy": 0.5})
    acc.update({"llmbar-natural": 0.8})
    acc.update({"refusals-dangerous": 1.0, "xstest-should-respond": 0.6})
    acc.update({"math-prm": 0.9, "hep-python": 0.6, "hep-go": 0.3})
    out = rewardbench_scores(acc)
    chat = (100 * 1.0 + 28 * 0.5) / (100 + 95 + 95 + 28 + 40)
    chat_hard = 100 * 0.8 / (37 + 100 + 134 + 92 + 47 + 46)
    safety = (100 * 1.0 + 250 * 0.6) / (100 + 100 + 154 + 250 + 136)
    reasoning = 0.5 * 0.9 + 0.5 * (0.6 + 0.3) / 6  # math-prm is half of Reasoning
    assert out["Chat"] == pytest.approx(chat)
    assert out["Chat Hard"] == pytest.approx(chat_hard)
    assert out["Safety"] == pytest.approx(safety)
    assert out["Reasoning"] == pytest.approx(reasoning)
    assert out["overall"] == pytest.approx((chat + chat_hard + safety + reasoning) / 4)
    assert "Prior Sets" not in out


def test_partial_sections_and_prior_sets() -> None:
    out = rewardbench_scores({"alpacaeval-easy": 1.0, "alpacaeval-hard": 0.0, "llmbar-natural": 0.5})
    assert out["Chat"] == pytest.approx(100 / 195)
    assert out["Chat Hard"] == pytest.approx(0.5)
    assert set(out) == {"Chat", "Chat Hard", "overall"}
    assert out["overall"] == pytest.approx((100 / 195 + 0.5) / 2)
    prior = rewardbench_scores({"alpacaeval-easy": 1.0, "shp": 0.0}, include_prior_sets=True)
    assert prior["overall"] == pytest.approx((1.0 + 0.5 * 0.0) / 1.5)
    assert "Prior Sets" not in rewardbench_scores({"alpacaeval-easy": 1.0, "shp": 0.0})
    assert rewardbench_scores({}) == {}
    with pytest.raises(ValueError, match="unknown RewardBench subsets"):
        rewardbench_scores({"nope": 1.0})


def test_subset_accuracy() -> None:
    assert subset_accuracy([1, 0, 0.5, 1], ["a", "a", "b", "b"]) == {"a": 0.5, "b": 0.75}


def test_bootstrap_skips_degenerate_resamples() -> None:
    # Few distinct values: some resamples are constant (undefined Pearson); the CI must still exist.
    pred = [1, 1, 1, 1, 1, 1, 2, 5]
    gold = [1, 2, 1, 2, 1, 1, 3, 5]
    low, high = bootstrap_ci(pearson, pred, gold, n_resamples=400, seed=0)
    assert not math.isnan(low) and low <= pearson(pred, gold) <= high
    assert all(math.isnan(v) for v in bootstrap_ci(pearson, [1, 1, 1], [1, 2, 3], n_resamples=50))


# ---- gold without a score, rounding -------------------------------------------------------------


def test_items_without_gold_are_counted_apart_not_crashing() -> None:
    pred = [1, 2, 3, None, 5, 4]
    gold = [1, None, float("nan"), 2, 5, 3]
    m = score_metrics(pred, gold, bootstrap=20)
    assert (m["n"], m["n_valid"], m["n_failed"], m["n_no_gold"]) == (6, 3, 1, 2)
    assert m["parse_rate"] == pytest.approx(3 / 4)
    assert m["pearson"] == pytest.approx(pearson([1, 5, 4], [1, 5, 3]))
    assert m["n"] == m["n_valid"] + m["n_failed"] + m["n_no_gold"]
    assert math.isnan(score_metrics([1, 2], [None, None])["parse_rate"])
    assert confusion_matrix([1, 2], [1, None])[0][0] == 1


def test_accuracy_and_mae_are_on_predictions_rounded_half_up() -> None:
    m = score_metrics([2.5, 3.4, 4.49, 1.0], [3, 3, 4, 2])
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["mae"] == pytest.approx(1 / 4)  # |3-3| + |3-3| + |4-4| + |1-2|, not the raw 0.1 + 0.4 + ...


# ---- vectorised bootstrap against a resample-by-resample reference --------------------------------


def _reference(x: np.ndarray, y: np.ndarray, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_resamples, len(x)))
    return {name: np.array([fn(x[i], y[i]) for i in idx]) for name, fn in STATISTICS.items()}


@pytest.mark.parametrize("kind", ["integers", "means", "continuous"])
def test_vectorised_bootstrap_equals_per_resample_scipy(kind: str) -> None:
    rng = np.random.default_rng(5)
    gold = rng.integers(1, 6, 60).astype(float)
    if kind == "integers":  # contingency-table path, heavy ties
        pred = np.clip(gold + rng.integers(-2, 3, 60), 1, 5)
    elif kind == "means":  # self-consistency means of 4 samples
        pred = np.clip(gold + rng.integers(-4, 5, 60) / 4, 1, 5)
    else:  # expected scores: every value distinct, the row-wise path
        pred = gold + rng.normal(0, 1, 60)
    got = bootstrap_distributions(pred, gold, n_resamples=150, seed=11)
    want = _reference(pred, gold, 150, 11)
    for name in STATISTICS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name)


def test_table_path_handles_constant_resamples_like_scipy() -> None:
    pred = np.array([1, 1, 1, 1, 1, 1, 2, 5], float)
    gold = np.array([1, 2, 1, 2, 1, 1, 3, 5], float)
    got = bootstrap_distributions(pred, gold, n_resamples=300, seed=0)
    want = _reference(pred, gold, 300, 0)
    assert np.isnan(got["pearson"]).any()  # some resamples are constant: undefined, then skipped
    for name in STATISTICS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name)


def test_bootstrap_is_chunked_without_changing_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    gold = rng.integers(1, 6, 500).astype(float)
    pred = gold + rng.normal(0, 1, 500)
    whole = score_metrics(list(pred), list(gold), bootstrap=100, seed=4)["ci"]
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", 1500)  # three resamples per chunk
    assert score_metrics(list(pred), list(gold), bootstrap=100, seed=4)["ci"] == whole
    assert bootstrap_ci("pearson", pred, gold, n_resamples=100, seed=4) == tuple(whole["pearson"])
    custom = bootstrap_ci(lambda a, b: float(np.median(a - b)), pred, gold, n_resamples=100, seed=4)
    assert custom[0] <= float(np.median(pred - gold)) <= custom[1]


def test_kendall_beyond_the_cap_uses_a_rescaled_m_out_of_n_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    gold = rng.integers(1, 6, 2400).astype(float)
    pred = gold + rng.normal(0, 1.5, 2400)
    full = bootstrap_ci(kendall, pred, gold, n_resamples=200, seed=1)  # n > cap (2000)
    assert full == bootstrap_ci(kendall, pred, gold, n_resamples=200, seed=1)
    monkeypatch.setattr(M, "KENDALL_BOOTSTRAP_CAP", 10**6)  # the plain bootstrap, for comparison
    plain = bootstrap_ci(kendall, pred, gold, n_resamples=200, seed=1)
    est = kendall(pred, gold)
    assert full[0] < est < full[1]
    assert (full[1] - full[0]) == pytest.approx(plain[1] - plain[0], rel=0.3)
    assert abs((full[0] + full[1]) / 2 - (plain[0] + plain[1]) / 2) < 0.01


def test_bootstrap_nan_when_most_resamples_are_undefined() -> None:
    # ~56% of the resamples are constant in pred or in gold: the interval is undefined
    x, y = [1, 1, 2], [1, 2, 2]
    undefined = np.isnan(bootstrap_distributions(x, y, ["pearson"], n_resamples=1000)["pearson"]).mean()
    assert 0.5 < undefined < 0.62
    assert all(math.isnan(v) for v in bootstrap_ci(pearson, x, y, n_resamples=1000))
    assert not math.isnan(bootstrap_ci("accuracy", x, y, n_resamples=1000)[0])


# ---- paired differences ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric, fn", [("pearson", pearson), ("spearman", spearman)])
def test_paired_bootstrap_diff_pearson_and_spearman(metric: str, fn) -> None:
    rng = np.random.default_rng(0)
    gold = [float(g) for g in rng.integers(1, 6, 80)]
    good = [g + float(e) for g, e in zip(gold, rng.normal(0, 0.5, 80), strict=True)]
    bad = [g + float(e) for g, e in zip(gold, rng.normal(0, 2.0, 80), strict=True)]
    good[3] = None  # a failure: left out for that judge only
    gold_with_hole = list(gold)
    gold_with_hole[7] = None  # no gold: left out for both
    d = paired_bootstrap_diff(good, bad, gold_with_hole, metric=metric, n_resamples=400, seed=2)
    keep_a = [i for i in range(80) if i not in (3, 7)]
    keep_b = [i for i in range(80) if i != 7]
    assert d[f"{metric}_a"] == pytest.approx(fn([good[i] for i in keep_a], [gold[i] for i in keep_a]))
    assert d[f"{metric}_b"] == pytest.approx(fn([bad[i] for i in keep_b], [gold[i] for i in keep_b]))
    assert d["ci"][0] > 0 and d["ci"][0] < d["diff"] < d["ci"][1]
    assert paired_bootstrap_diff(good, bad, gold_with_hole, metric=metric, n_resamples=400, seed=2) == d
    same = paired_bootstrap_diff(good, good, gold, metric=metric, n_resamples=50)
    assert same["diff"] == 0 and same["ci"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="metric"):
        paired_bootstrap_diff(good, bad, gold, metric="kendall")


def test_across_seeds_is_a_t_interval_over_seed_differences() -> None:
    """Three seeds' differences: the mean with a Student-t CI (t_0.975,2 = 4.303, by hand), a
    one-sided p-value; one seed that loses widens the interval past 0 though the mean is positive."""
    d = across_seeds([0.10, 0.20, 0.30])
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert d["mean"] == pytest.approx(0.2) and d["sd"] == pytest.approx(0.1) and d["n_seeds"] == 3
    assert d["ci"] == pytest.approx([0.2 - half, 0.2 + half])
    t = 0.2 / (0.1 / math.sqrt(3))
    assert d["p_not_greater"] == pytest.approx(stats.t.sf(t, 2))
    mixed = across_seeds([0.17, -0.01, 0.08])
    assert mixed["mean"] > 0 and mixed["ci"][0] < 0 < mixed["ci"][1] and mixed["p_not_greater"] > 0.05
    undefined = across_seeds([0.1, float("nan"), 0.3])
    assert undefined["n_seeds"] == 2 and undefined["n_undefined"] == 1 and undefined["mean"] == pytest.approx(0.2)
    for degenerate in ([0.1], [0.05, 0.05], []):  # no spread to estimate: no interval, not a zero-width one
        out = across_seeds(degenerate)
        assert all(math.isnan(x) for x in out["ci"]) and math.isnan(out["p_not_greater"])


def test_demo_report_uses_the_metrics_implementation() -> None:
    from selfrat_eval.demo import report

    assert report.paired_bootstrap_diff is paired_bootstrap_diff
