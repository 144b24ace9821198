"""RewardBench protocol: is the chosen response preferred over the rejected one?

Defaults, decided once here for every front end:

- **Mode: pairwise** — the judge sees both responses (the Prometheus relative format) in both A/B
  orders, and a pair is won only when both orders prefer the chosen response (position bias cannot
  win a pair; this is also how RewardBench scores generative judges, minus its unseeded random
  swap). ``mode=pointwise`` grades chosen and rejected separately on the 1..5 scale; the higher
  score wins.
- **Rubric policy: per section** (``rubric=auto``) — RewardBench rows carry no rubric, and one
  generic rubric would reward the wrong answer in whole sections: Safety's chosen responses are
  refusals, which a helpfulness rubric scores low. So Chat is graded on ``helpfulness``, Chat Hard
  (LLMBar and MT-Bench hard: does the response do what was asked) on ``instruction_following``,
  Safety on ``harmlessness``, Reasoning (math and code) on ``correctness``, Prior Sets on
  ``helpfulness``. ``rubric=<name or file>`` grades every pair on one rubric instead.
- Outcomes: win 1, loss 0, tie or undecided 0.5 (RewardBench's convention for generative judges).
  With expected-score judging the outcome is a probability: pointwise P(chosen > rejected) + 0.5 P(tie)
  from the two score distributions; pairwise the mean over both orders of P(chosen preferred).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..aggregation import both_orders_outcome, pointwise_pair_outcome
from ..formats import absolute_prompt, relative_prompt
from ..loaders import REWARDBENCH_HUB_ID, Loaded, load_rewardbench
from ..metrics import (
    REWARDBENCH_CORE_SECTIONS,
    REWARDBENCH_SECTIONS,
    rewardbench_scores,
    subset_accuracy,
)
from ..parsing import Judgment
from ..records import PairwiseItem
from ..rubric import Rubric, get_rubric
from .base import ItemResult, JudgeRequest, Protocol, draw_counts, sample_metrics, slug
from .strategy import Decision, StrategyConfig

CHOSEN, REJECTED = "chosen", "rejected"  # pointwise mode
CHOSEN_FIRST, CHOSEN_SECOND = "chosen_first", "chosen_second"  # pairwise: chosen shown as A, then as B

SECTION_RUBRICS: dict[str, str] = {
    "Chat": "helpfulness",
    "Chat Hard": "instruction_following",
    "Safety": "harmlessness",
    "Reasoning": "correctness",
    "Prior Sets": "helpfulness",
}
AUTO = "auto"
SECTION_METRICS = {sec: slug(sec) for sec in (*REWARDBENCH_CORE_SECTIONS, "Prior Sets")}


class RewardBenchProtocol(Protocol):
    name = "rewardbench"
    description = "RewardBench filtered: chosen vs rejected, section scores with the official weights"
    hub_id = REWARDBENCH_HUB_ID
    default_split = "filtered"
    default_mode = "pairwise"
    primary_metric = "score"

    def validate_options(self) -> None:
        o = self.options
        if o.include_multilingual or o.skip_llm_judge_tasks:
            raise ValueError("include_multilingual/skip_llm_judge_tasks are BiGGen options; RewardBench has none")
        if not o.require_consistent and self.mode != "pairwise":
            raise ValueError("require_consistent applies to pairwise mode (both orders); pointwise has one verdict per response")
        self._fixed_rubric: Rubric | None = None
        if o.rubric and o.rubric != AUTO:
            self._fixed_rubric = get_rubric(o.rubric)

    @property
    def mode(self) -> str:
        return self.options.mode or self.default_mode

    def load(self) -> Loaded[PairwiseItem]:
        loaded = load_rewardbench(
            self.source,
            self.split,
            subsets=list(self.options.subsets) if self.options.subsets else None,
            sections=list(self.options.sections) if self.options.sections else None,
        )
        items = list(loaded.items)
        if self.options.limit is not None:
            items = items[: self.options.limit]
        return Loaded(items, loaded.source, dict(loaded.dropped))

    def rubric_for(self, item: PairwiseItem) -> Rubric:
        if self._fixed_rubric is not None:
            return self._fixed_rubric
        if item.rubric is not None:
            return item.rubric
        return get_rubric(SECTION_RUBRICS.get(item.section or "", "helpfulness"))

    def requests(self, item: PairwiseItem) -> list[JudgeRequest]:
        rubric = self.rubric_for(item)
        ref = item.reference_answer if self.options.reference else None
        if self.mode == "pointwise":
            return [
                JudgeRequest(CHOSEN, absolute_prompt(item.prompt, item.chosen, rubric, ref), rubric.scale),
                JudgeRequest(REJECTED, absolute_prompt(item.prompt, item.rejected, rubric, ref), rubric.scale),
            ]
        return [
            JudgeRequest(CHOSEN_FIRST, relative_prompt(item.prompt, item.chosen, item.rejected, rubric, ref), rubric.scale),
            JudgeRequest(CHOSEN_SECOND, relative_prompt(item.prompt, item.rejected, item.chosen, rubric, ref), rubric.scale),
        ]

    def labels(self, item: PairwiseItem) -> str:
        return item.subset

    def outcome(self, decisions: Mapping[str, Decision], strategy: StrategyConfig) -> float:
        if self.mode == "pointwise":
            c, r = decisions[CHOSEN], decisions[REJECTED]
            if strategy.name == "expected-score" and c.probs is not None and r.probs is not None:
                return prob_greater(c.probs, r.probs)
            return pointwise_pair_outcome(_num(c.value), _num(r.value))
        first, second = decisions[CHOSEN_FIRST], decisions[CHOSEN_SECOND]
        if strategy.name == "expected-score":
            p1, p2 = first.preference_a, second.preference_a
            if p1 is None or p2 is None:
                return 0.5
            return (p1 + (1.0 - p2)) / 2  # chosen is A in the first order and B in the second
        return both_orders_outcome(
            _verdict(first), _verdict(second), require_consistent=self.options.require_consistent
        )

    def item_result(self, item: PairwiseItem, decisions: Mapping[str, Decision], strategy: StrategyConfig) -> ItemResult:
        ds = list(decisions.values())
        return {
            "id": item.id,
            "subset": item.subset,
            "outcome": self.outcome(decisions, strategy),
            "decided": all(d.ok for d in ds),
            "n_judgments": len(ds),
            "n_failed_judgments": sum(not d.ok for d in ds),
            **draw_counts(ds),
        }

    def metric_names(self, labels: Iterable[str], strategy: StrategyConfig) -> list[str]:
        present = set(labels)
        names = ["score"]
        names += [m for sec, m in SECTION_METRICS.items() if present & set(REWARDBENCH_SECTIONS[sec])]
        names += ["accuracy", "parse_rate", "n_failed", "n", "sample_parse_rate"]
        names += ["n_bon_fallback"] if strategy.name == "best-of-n" else []
        names += ["n_forced"] if strategy.name == "expected-score" else []
        names += [f"acc_{s}" for sec in SECTION_METRICS for s in REWARDBENCH_SECTIONS[sec] if s in present]
        return names

    def metrics(self, results: Sequence[ItemResult]) -> dict[str, float]:
        outcomes = [float(r["outcome"]) for r in results]
        subsets = [str(r["subset"]) for r in results]
        per_subset = subset_accuracy(outcomes, subsets)
        out: dict[str, float] = {}
        sections = rewardbench_scores(per_subset, include_prior_sets=True)
        out["score"] = float(rewardbench_scores(per_subset).get("overall", math.nan)) if per_subset else math.nan
        for sec, name in SECTION_METRICS.items():
            if sec in sections:
                out[name] = float(sections[sec])
        n = len(results)
        n_judgments = sum(int(r["n_judgments"]) for r in results)
        n_failed_j = sum(int(r["n_failed_judgments"]) for r in results)
        out["accuracy"] = float(np.mean(outcomes)) if outcomes else math.nan
        out["parse_rate"] = (n_judgments - n_failed_j) / n_judgments if n_judgments else math.nan
        out["n_failed"] = float(sum(not r["decided"] for r in results))
        out["n"] = float(n)
        out.update(sample_metrics(results))
        out.update({f"acc_{s}": float(v) for s, v in per_subset.items()})
        return out

    def confidence_intervals(
        self, results: Sequence[ItemResult], *, n_resamples: int, seed: int
    ) -> dict[str, list[float]]:
        if n_resamples <= 0 or not results:
            return {}
        return rewardbench_bootstrap(
            [float(r["outcome"]) for r in results], [str(r["subset"]) for r in results], n_resamples=n_resamples, seed=seed
        )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _verdict(d: Decision) -> Judgment:
    if d.value in ("A", "B"):
        return Judgment(text="", rationale="", mode="relative", verdict=str(d.value))
    return Judgment(text="", rationale="", mode="relative", error=d.error or "no_verdict")


def prob_greater(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """P(X > Y) + 0.5 P(X = Y) for independent scores X ~ p and Y ~ q (keys are score levels)."""
    total = 0.0
    for a, pa in p.items():
        for b, qb in q.items():
            if float(a) > float(b):
                total += pa * qb
            elif float(a) == float(b):
                total += 0.5 * pa * qb
    return total


def rewardbench_bootstrap(
    outcomes: Sequence[float], subsets: Sequence[str], *, n_resamples: int, seed: int, confidence: float = 0.95
) -> dict[str, list[float]]:
    """Percentile CIs of ``score`` and each section, resampling pairs within each subset
    (stratified, so the official subset weights stay meaningful)."""
    rng = np.random.default_rng(seed)
    by_subset: dict[str, list[float]] = {}
    for o, s in zip(outcomes, subsets, strict=True):
        by_subset.setdefault(s, []).append(o)
    means = {
        s: np.asarray(v, float)[rng.integers(0, len(v), (n_resamples, len(v)))].mean(1) for s, v in by_subset.items()
    }
    draws: dict[str, list[float]] = {}
    for b in range(n_resamples):
        for key, value in rewardbench_scores({s: float(m[b]) for s, m in means.items()}).items():
            name = "score" if key == "overall" else SECTION_METRICS.get(key, slug(key))
            draws.setdefault(name, []).append(value)
    alpha = (1 - confidence) / 2
    return {k: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] for k, v in draws.items()}
