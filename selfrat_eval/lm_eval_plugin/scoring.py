"""Per-doc records and their aggregations for the ``selfrat_*`` lm-eval tasks.

``process_results`` turns the judge outputs of one doc into one record (parsed with
``selfrat_eval.parse_judgment``; failures stay ``None`` and are counted, never given a default).
Every metric of a task receives the same list of records, and its aggregation computes the value
with ``selfrat_eval.metrics`` / ``selfrat_eval.aggregation`` -- the same functions the native runner
and Inspect use -- so the numbers agree exactly on the same judgments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..aggregation import (
    both_orders_outcome,
    pointwise_pair_outcome,
    self_consistency,
    self_consistency_verdict,
)
from ..metrics import (
    REWARDBENCH_CORE_SECTIONS,
    REWARDBENCH_SECTIONS,
    grouped_score_metrics,
    rewardbench_scores,
    score_metrics,
    subset_accuracy,
)
from ..parsing import TIE, Judgment, parse_judgment

Record = Mapping[str, Any]

# Capabilities of BiGGen Bench (prometheus-eval/BiGGen-Bench); multilingual is out of the human study
# by default but reported when included.
BIGGEN_CAPABILITIES = (
    "grounding",
    "instruction_following",
    "multilingual",
    "planning",
    "reasoning",
    "refinement",
    "safety",
    "theory_of_mind",
    "tool_usage",
)
REWARDBENCH_SUBSETS = tuple(s for sec in REWARDBENCH_CORE_SECTIONS for s in REWARDBENCH_SECTIONS[sec])
CORRELATIONS = ("pearson", "spearman", "kendall")


class BestOfNError(RuntimeError):
    """A ``*_bon`` task got outputs that did not come from the ``selfrat-bon`` model wrapper."""


def slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


# ---- per-doc records ----------------------------------------------------------------------------


def _texts(result: Any, variant: str) -> list[str]:
    """The N sampled texts of one prompt (N = 1 unless self-consistency)."""
    if variant == "sc":
        return [str(t) for t in result] if isinstance(result, (list, tuple)) else [str(result)]
    if isinstance(result, (list, tuple)):  # repeats without a take_first filter
        result = result[0]
    return [result]


def _sample_counts(
    result: Any, texts: Sequence[str], judgments: Sequence[Judgment], variant: str
) -> tuple[int, int]:
    """(samples drawn, samples that failed to parse) behind one prompt."""
    if variant == "bon":
        selected = result[0] if isinstance(result, (list, tuple)) else result
        n = getattr(selected, "n_samples", None)
        if n is None:
            raise BestOfNError(
                "selfrat *_bon tasks select one of N sampled judgments by mean token log-probability and "
                "need the selfrat-bon model: --model selfrat-bon --model_args base=hf,pretrained=...,n=8 "
                "(do not combine with --use_cache)"
            )
        return int(n), int(selected.n_failed_samples)
    return len(texts), sum(1 for j in judgments if not j.ok)


def _parse_all(doc: Mapping[str, Any], results: Sequence[Any]) -> list[tuple[list[Judgment], int, int]]:
    variant, mode = doc["variant"], doc["mode"]
    scale = (int(doc["scale_low"]), int(doc["scale_high"]))
    if len(results) != len(doc["prompts"]):
        raise ValueError(f"doc {doc['id']}: expected {len(doc['prompts'])} judge outputs, got {len(results)}")
    out = []
    for result in results:
        texts = _texts(result, variant)
        judgments = [parse_judgment(t, mode=mode, scale=scale) for t in texts]
        n, failed = _sample_counts(result, texts, judgments, variant)
        out.append((judgments, n, failed))
    return out


def _score(judgments: Sequence[Judgment], variant: str, method: str = "majority") -> float | None:
    if variant == "sc":
        return self_consistency(judgments, method).value  # type: ignore[arg-type]
    return None if judgments[0].score is None else float(judgments[0].score)


def _verdict(judgments: Sequence[Judgment], variant: str) -> Judgment:
    if variant != "sc":
        return judgments[0]
    verdict, _ = self_consistency_verdict(judgments)
    return Judgment(text="", rationale="", mode="relative", verdict=verdict, error=None if verdict else TIE)


def doc_record(
    doc: Mapping[str, Any], results: Sequence[Any], *, require_consistent: bool = True
) -> dict[str, Any]:
    """The record of one doc (shared by all metrics of the task)."""
    parsed = _parse_all(doc, results)
    variant, kind = doc["variant"], doc["kind"]
    n_samples = sum(n for _, n, _ in parsed)
    n_failed_samples = sum(f for _, _, f in parsed)
    record: dict[str, Any] = {"id": doc["id"], "n_samples": n_samples, "n_failed_samples": n_failed_samples}
    if kind == "pointwise":
        judgments = parsed[0][0]
        record.update(gold=float(doc["gold"]), group=doc["group"], pred=_score(judgments, variant))
        if variant == "sc":
            record["pred_mean"] = _score(judgments, variant, "mean")
        return record
    record["subset"] = doc["subset"]
    if kind == "pair_pointwise":
        chosen, rejected = (_score(j, variant) for j, _, _ in parsed)
        record.update(
            outcome=pointwise_pair_outcome(chosen, rejected),
            n_judgments=2,
            n_failed_judgments=int(chosen is None) + int(rejected is None),
        )
        if variant == "sc":
            c_mean, r_mean = (_score(j, variant, "mean") for j, _, _ in parsed)
            record["outcome_mean"] = pointwise_pair_outcome(c_mean, r_mean)
        return record
    first, second = (_verdict(j, variant) for j, _, _ in parsed)
    record.update(
        outcome=both_orders_outcome(first, second, require_consistent=require_consistent),
        n_judgments=2,
        n_failed_judgments=int(not first.ok) + int(not second.ok),
    )
    return record


# ---- aggregations -------------------------------------------------------------------------------


def _nan_if_missing(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _pointwise(records: Sequence[Record], pred_key: str = "pred") -> dict[str, Any]:
    return score_metrics([r[pred_key] for r in records], [r["gold"] for r in records])


def _rewardbench(records: Sequence[Record], outcome_key: str = "outcome") -> dict[str, float]:
    acc = subset_accuracy([r[outcome_key] for r in records], [r["subset"] for r in records])
    return {
        **{f"acc_{s}": v for s, v in acc.items()},
        **{slug(k): v for k, v in rewardbench_scores(acc).items()},
    }


def sample_parse_rate(records: Sequence[Record]) -> float:
    n = sum(r["n_samples"] for r in records)
    return (n - sum(r["n_failed_samples"] for r in records)) / n if n else float("nan")


def judgment_parse_rate(records: Sequence[Record]) -> float:
    n = sum(r["n_judgments"] for r in records)
    return (n - sum(r["n_failed_judgments"] for r in records)) / n if n else float("nan")


def micro_accuracy(records: Sequence[Record]) -> float:
    return sum(r["outcome"] for r in records) / len(records) if records else float("nan")


@dataclass(frozen=True)
class Aggregation:
    """A named lm-eval aggregation (a callable object, so results JSON shows its name, not source)."""

    name: str
    fn: Callable[[Sequence[Record]], float]

    def __call__(self, records: Sequence[Record]) -> float:
        return float(self.fn(list(records)))

    def __repr__(self) -> str:
        return f"selfrat_eval:{self.name}"


def _pointwise_metric(stat: str, pred_key: str = "pred") -> Callable[[Sequence[Record]], float]:
    return lambda rs: _pointwise(rs, pred_key)[stat]


def _group_metric(stat: str, group: str) -> Callable[[Sequence[Record]], float]:
    def fn(rs: Sequence[Record]) -> float:
        grouped = grouped_score_metrics(
            [r["pred"] for r in rs], [r["gold"] for r in rs], [r["group"] for r in rs]
        )
        return _nan_if_missing(grouped["groups"].get(group, {}).get(stat))

    return fn


def _macro_metric(stat: str) -> Callable[[Sequence[Record]], float]:
    return lambda rs: grouped_score_metrics(
        [r["pred"] for r in rs], [r["gold"] for r in rs], [r["group"] for r in rs]
    )["macro"][stat]


def _rb_metric(key: str, outcome_key: str = "outcome") -> Callable[[Sequence[Record]], float]:
    return lambda rs: _nan_if_missing(_rewardbench(rs, outcome_key).get(key))


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[[Sequence[Record]], float]
    higher_is_better: bool = True


def metric_specs(
    family: str,
    kind: str,
    variant: str,
    *,
    groups: Collection[str] | None = None,
    subsets: Collection[str] | None = None,
) -> list[MetricSpec]:
    """The metrics of one task, in report order.

    ``groups``/``subsets`` (the BiGGen capabilities / RewardBench subsets present in the data)
    leave out per-capability, per-subset and per-section metrics that would only be NaN.
    """
    specs = _all_metric_specs(family, kind, variant)
    if groups is not None:
        absent = {f"pearson_{slug(c)}" for c in BIGGEN_CAPABILITIES if c not in groups}
        specs = [s for s in specs if s.name not in absent]
    if subsets is not None:
        absent = {f"acc_{s}" for s in REWARDBENCH_SUBSETS if s not in subsets}
        absent |= {
            slug(sec)
            for sec in REWARDBENCH_CORE_SECTIONS
            if not any(sub in subsets for sub in REWARDBENCH_SECTIONS[sec])
        }
        specs = [s for s in specs if s.name not in absent]
    return specs


def _all_metric_specs(family: str, kind: str, variant: str) -> list[MetricSpec]:
    specs: list[MetricSpec] = []
    if kind == "pointwise":
        specs += [MetricSpec(s, _pointwise_metric(s)) for s in CORRELATIONS]
        specs += [
            MetricSpec("accuracy", _pointwise_metric("accuracy")),
            MetricSpec("mae", _pointwise_metric("mae"), higher_is_better=False),
            MetricSpec("parse_rate", _pointwise_metric("parse_rate")),
            MetricSpec("n_failed", _pointwise_metric("n_failed"), higher_is_better=False),
            MetricSpec("sample_parse_rate", sample_parse_rate),
        ]
        if variant == "sc":
            specs += [MetricSpec(f"{s}_mean", _pointwise_metric(s, "pred_mean")) for s in CORRELATIONS]
            specs.append(
                MetricSpec("mae_mean", _pointwise_metric("mae", "pred_mean"), higher_is_better=False)
            )
        if family == "biggen":
            specs += [MetricSpec(f"{s}_macro", _macro_metric(s)) for s in CORRELATIONS]
            specs += [
                MetricSpec(f"pearson_{slug(c)}", _group_metric("pearson", c)) for c in BIGGEN_CAPABILITIES
            ]
        return specs
    specs += [MetricSpec("score", _rb_metric("overall"))]
    specs += [MetricSpec(slug(sec), _rb_metric(slug(sec))) for sec in REWARDBENCH_CORE_SECTIONS]
    specs += [
        MetricSpec("accuracy", micro_accuracy),
        MetricSpec("parse_rate", judgment_parse_rate),
        MetricSpec("sample_parse_rate", sample_parse_rate),
    ]
    if variant == "sc" and kind == "pair_pointwise":
        specs.append(MetricSpec("score_mean", _rb_metric("overall", "outcome_mean")))
    specs += [MetricSpec(f"acc_{s}", _rb_metric(f"acc_{s}")) for s in REWARDBENCH_SUBSETS]
    return specs


def metric_list(
    family: str, kind: str, variant: str, **present: Collection[str] | None
) -> list[dict[str, Any]]:
    """lm-eval ``metric_list`` entries for a task."""
    return [
        {"metric": s.name, "aggregation": Aggregation(s.name, s.fn), "higher_is_better": s.higher_is_better}
        for s in metric_specs(family, kind, variant, **present)
    ]


def aggregate(
    records: Sequence[Record], family: str, kind: str, variant: str, **present: Collection[str] | None
) -> dict[str, float]:
    """All metrics of a task from its records (what lm-eval computes, without lm-eval)."""
    return {s.name: float(s.fn(list(records))) for s in metric_specs(family, kind, variant, **present)}


def is_nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
