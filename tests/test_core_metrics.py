"""Metrics against scipy and hand-computed RewardBench expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from selfrat_eval.metrics import (
    REWARDBENCH_SECTIONS,
    bootstrap_ci,
    confusion_matrix,
    grouped_score_metrics,
    pearson,
    rewardbench_scores,
    score_metrics,
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
