"""Inspect metrics over the judge scorer's per-sample dicts, computed by ``selfrat_eval.metrics``.

The values reaching a metric are already reduced over epochs (one per sample). Conversions:
- pointwise: prediction = ``value["score"]`` (None when NaN = failed);
- RewardBench pointwise: outcome = ``pointwise_pair_outcome(chosen, rejected)`` (failure = 0.5);
- RewardBench pairwise: each order's preference for chosen becomes a verdict (> 0.5 chosen,
  < 0.5 rejected, 0.5 or NaN none) and the outcome is ``both_orders_outcome``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from inspect_ai.scorer import Metric, SampleScore, metric

from ..aggregation import both_orders_outcome, pointwise_pair_outcome
from ..metrics import grouped_score_metrics, rewardbench_scores, score_metrics, subset_accuracy
from ..parsing import Judgment
from .dataset import MAIN

POOLED_STATS = ("pearson", "spearman", "kendall", "accuracy", "mae", "n", "n_valid", "n_failed")


def _value(s: SampleScore) -> dict[str, Any]:
    value = s.score.value
    if not isinstance(value, dict):
        raise TypeError(f"sample {s.sample_id}: expected the judge scorer's dict value, got {value!r}")
    return value


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _meta(s: SampleScore) -> dict[str, Any]:
    return s.sample_metadata or {}


def pointwise_predictions(scores: Sequence[SampleScore]) -> tuple[list[float | None], list[float]]:
    """(predictions, gold) for the samples that have a gold score."""
    pred: list[float | None] = []
    gold: list[float] = []
    for s in scores:
        g = _meta(s).get("gold")
        if g is None:
            continue
        pred.append(_num(_value(s).get(MAIN)))
        gold.append(float(g))
    return pred, gold


def _verdict(preference: float | None, chosen_position: str) -> Judgment:
    other = "B" if chosen_position == "A" else "A"
    if preference is None or preference == 0.5:
        return Judgment(text="", rationale="", mode="relative", error="no_verdict")
    verdict = chosen_position if preference > 0.5 else other
    return Judgment(text="", rationale="", mode="relative", verdict=verdict)


def pair_outcome(s: SampleScore) -> float:
    """RewardBench outcome of one sample: 1 win, 0 loss, 0.5 tie or failure."""
    value = _value(s)
    meta = _meta(s)
    if meta.get("kind") == "rewardbench_pointwise" or "chosen" in value:
        return pointwise_pair_outcome(_num(value.get("chosen")), _num(value.get("rejected")))
    first = _verdict(_num(value.get("chosen_first")), "A")
    second = _verdict(_num(value.get("chosen_second")), "B")
    return both_orders_outcome(first, second, require_consistent=bool(meta.get("require_consistent", True)))


@metric
def parse_rate() -> Metric:
    """Share of judgments that parsed (after epoch reduction: a judgment fails only if every epoch did)."""

    def compute(scores: list[SampleScore]) -> float:
        values = [_num(v) for s in scores for v in _value(s).values()]
        return (sum(v is not None for v in values) / len(values)) if values else float("nan")

    return compute


@metric
def judge_agreement() -> Metric:
    """Pearson, Spearman, Kendall, exact accuracy, MAE vs gold, with counts (``score_metrics``)."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        pred, gold = pointwise_predictions(scores)
        if not gold:
            return {}
        out = score_metrics(pred, gold)
        return {k: float(out[k]) for k in POOLED_STATS}

    return compute


@metric
def judge_agreement_by(
    group: str = "capability", stats: Sequence[str] = ("pearson", "spearman", "kendall")
) -> Metric:
    """``grouped_score_metrics`` by a sample group: ``<label>/<stat>`` and ``macro/<stat>``."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        pred: list[float | None] = []
        gold: list[float] = []
        labels: list[str] = []
        for s in scores:
            meta = _meta(s)
            g = meta.get("gold")
            label = (meta.get("groups") or {}).get(group)
            if g is None or label is None:
                continue
            pred.append(_num(_value(s).get(MAIN)))
            gold.append(float(g))
            labels.append(str(label))
        if not gold:
            return {}
        out = grouped_score_metrics(pred, gold, labels)
        result: dict[str, float] = {}
        for label, m in out["groups"].items():
            for stat in stats:
                result[f"{label}/{stat}"] = float(m[stat])
            result[f"{label}/n_failed"] = float(m["n_failed"])
        for stat in stats:
            result[f"macro/{stat}"] = float(out["macro"][stat])
        return result

    return compute


@metric
def rewardbench_accuracy() -> Metric:
    """Per-subset accuracy, per-section (official weights) and ``overall`` (``rewardbench_scores``)."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        outcomes = [pair_outcome(s) for s in scores]
        subsets = [str(_meta(s).get("subset")) for s in scores]
        per_subset = subset_accuracy(outcomes, subsets)
        result = {f"subset/{k}": v for k, v in per_subset.items()}
        result.update({k: float(v) for k, v in rewardbench_scores(per_subset).items()})
        return result

    return compute
