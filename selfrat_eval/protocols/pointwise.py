"""Pointwise agreement protocols: grade each response 1..5 and correlate with gold scores.

- ``biggen``: BiGGen-Bench-Results ``human_eval`` (English by default), gold = human score,
  per-capability and macro metrics; the instance's own rubric.
- ``feedback_bench``: Feedback Bench, gold = ``orig_score``; the row's own rubric.
- ``custom``: your file (``load_custom_pointwise``); one rubric for all rows or a rubric per row;
  gold optional, groups from the ``group`` column.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..formats import absolute_prompt
from ..loaders import (
    BIGGEN_RESULTS_HUB_ID,
    FEEDBACK_BENCH_HUB_ID,
    Loaded,
    load_biggen_human_eval,
    load_custom_pointwise,
    load_feedback_bench,
)
from ..metrics import grouped_score_metrics, score_metrics
from ..records import PointwiseItem
from ..rubric import Rubric, get_rubric
from .base import ItemResult, Protocol, draw_counts, sample_metrics, slug
from .strategy import Decision, StrategyConfig

SCORE = "score"  # the request key of a pointwise item
CORRELATIONS = ("pearson", "spearman", "kendall")
POOLED = ("pearson", "spearman", "kendall", "accuracy", "mae", "parse_rate", "n_failed")


class PointwiseProtocol(Protocol):
    """Shared logic; subclasses choose the loader and the grouping."""

    group_key: ClassVar[str | None] = None  # item.groups key of the per-group metrics
    has_biggen_filters: ClassVar[bool] = False
    primary_metric = "pearson"

    def validate_options(self) -> None:
        o = self.options
        if o.mode not in (None, "pointwise"):
            raise ValueError(f"{self.name} grades single responses: mode must be pointwise, got {o.mode!r}")
        if o.subsets or o.sections:
            raise ValueError(f"subsets/sections are RewardBench options; {self.name} has none")
        if not o.require_consistent:
            raise ValueError(f"require_consistent is a RewardBench pairwise option; {self.name} grades single responses")
        if not self.has_biggen_filters and (o.include_multilingual or o.skip_llm_judge_tasks):
            raise ValueError(f"include_multilingual/skip_llm_judge_tasks are BiGGen options; {self.name} has none")

    def _rubric_override(self) -> Rubric | None:
        return get_rubric(self.options.rubric) if self.options.rubric else None

    def _finish(self, loaded: Loaded[PointwiseItem]) -> Loaded[PointwiseItem]:
        items = list(loaded.items)
        rubric = self._rubric_override()
        if rubric is not None:
            items = [dataclasses.replace(it, rubric=rubric) for it in items]
        if self.options.limit is not None:
            items = items[: self.options.limit]
        return Loaded(items, loaded.source, dict(loaded.dropped))

    def requests(self, item: PointwiseItem) -> list[Any]:
        from .base import JudgeRequest

        ref = item.reference_answer if self.options.reference else None
        prompt = absolute_prompt(item.instruction, item.response, item.rubric, ref)
        return [JudgeRequest(SCORE, prompt, item.rubric.scale)]

    def labels(self, item: PointwiseItem) -> str:
        return str(item.groups.get(self.group_key, "")) if self.group_key else ""

    def item_result(
        self, item: PointwiseItem, decisions: Mapping[str, Decision], strategy: StrategyConfig
    ) -> ItemResult:
        d = decisions[SCORE]
        return {
            "id": item.id,
            "gold": None if item.gold_score is None else float(item.gold_score),
            "group": self.labels(item),
            "pred": None if d.value is None else float(d.value),  # type: ignore[arg-type]
            "error": d.error,
            **draw_counts([d]),
        }

    def metric_names(self, labels: Iterable[str], strategy: StrategyConfig) -> list[str]:
        names = [*POOLED, "n", "n_valid", "sample_parse_rate"]
        names += ["n_bon_fallback"] if strategy.name == "best-of-n" else []
        names += ["n_forced"] if strategy.name == "expected-score" else []
        groups = sorted({lbl for lbl in labels if lbl})
        if self.group_key and groups:
            names += [f"{s}_macro" for s in CORRELATIONS]
            names += [f"pearson_{slug(g)}" for g in groups]
        return names

    def metrics(self, results: Sequence[ItemResult]) -> dict[str, float]:
        scored = [r for r in results if r.get("gold") is not None]
        pred = [r["pred"] for r in scored]
        gold = [float(r["gold"]) for r in scored]
        out: dict[str, float] = {}
        pooled = score_metrics(pred, gold) if scored else {}
        for name in ("pearson", "spearman", "kendall", "accuracy", "mae"):
            out[name] = float(pooled.get(name, math.nan))
        n = len(results)
        n_valid = sum(r.get("pred") is not None for r in results)
        out.update(n=float(n), n_valid=float(n_valid), n_failed=float(n - n_valid))
        out["parse_rate"] = n_valid / n if n else math.nan
        out.update(sample_metrics(results))
        labels = [str(r.get("group") or "") for r in scored]
        if self.group_key and any(labels):
            grouped = grouped_score_metrics(pred, gold, [lbl or "(none)" for lbl in labels])
            for s in CORRELATIONS:
                out[f"{s}_macro"] = float(grouped["macro"][s])
            for label, m in grouped["groups"].items():
                out[f"pearson_{slug(label)}"] = float(m["pearson"])
        return out

    def confidence_intervals(
        self, results: Sequence[ItemResult], *, n_resamples: int, seed: int
    ) -> dict[str, list[float]]:
        scored = [r for r in results if r.get("gold") is not None]
        if n_resamples <= 0 or not scored:
            return {}
        pred = [r["pred"] for r in scored]
        gold = [float(r["gold"]) for r in scored]
        pooled = score_metrics(pred, gold, bootstrap=n_resamples, seed=seed)
        out = {k: [float(v[0]), float(v[1])] for k, v in pooled["ci"].items()}
        labels = [str(r.get("group") or "") for r in scored]
        if self.group_key and any(labels):
            grouped = grouped_score_metrics(pred, gold, [lbl or "(none)" for lbl in labels], bootstrap=n_resamples, seed=seed)
            for label, m in grouped["groups"].items():
                out[f"pearson_{slug(label)}"] = [float(x) for x in m["ci"]["pearson"]]
        return out


class BiGGenProtocol(PointwiseProtocol):
    name = "biggen"
    has_biggen_filters = True
    description = "BiGGen-Bench-Results human_eval: absolute 1-5 grading vs human scores"
    hub_id = BIGGEN_RESULTS_HUB_ID
    default_split = "human_eval"
    group_key = "capability"

    def load(self) -> Loaded[PointwiseItem]:
        loaded = load_biggen_human_eval(
            self.source,
            self.split,
            include_multilingual=self.options.include_multilingual,
            skip_llm_judge_tasks=self.options.skip_llm_judge_tasks,
        )
        return self._finish(loaded)


class FeedbackBenchProtocol(PointwiseProtocol):
    name = "feedback_bench"
    description = "Feedback Bench: absolute 1-5 grading vs orig_score"
    hub_id = FEEDBACK_BENCH_HUB_ID
    default_split = "train"

    def load(self) -> Loaded[PointwiseItem]:
        return self._finish(load_feedback_bench(self.source, self.split))


class CustomProtocol(PointwiseProtocol):
    name = "custom"
    description = "your pointwise file: absolute grading vs the optional 'score' column"
    hub_id = ""
    default_split = "train"
    group_key = "group"

    def validate_options(self) -> None:
        super().validate_options()
        if not self.options.data:
            raise ValueError("the custom benchmark needs a data file (--data FILE / data=FILE)")

    def load(self) -> Loaded[PointwiseItem]:
        loaded = load_custom_pointwise(self.source, rubric=self.options.rubric, split=self.split)
        return self._finish(Loaded(list(loaded.items), loaded.source, dict(loaded.dropped)))

    def _rubric_override(self) -> Rubric | None:
        return None  # load_custom_pointwise already applied it to every row
