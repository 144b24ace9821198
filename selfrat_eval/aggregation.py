"""Test-time baselines over several judgments: self-consistency, best-of-N, both-order pairwise.

Shared by lm-eval, Inspect, the native runner and training so all of them aggregate identically.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .parsing import Judgment

ScMethod = Literal["majority", "mean", "median"]
SC_METHODS: tuple[ScMethod, ...] = ("majority", "mean", "median")


@dataclass(frozen=True)
class Aggregate:
    """An aggregated score; ``value`` is None when every judgment failed."""

    value: float | None
    method: str
    n_valid: int
    n_failed: int


def majority_vote(scores: Sequence[int]) -> int | None:
    """Most frequent score. Ties go to the tied score closest to the mean of all scores, then to
    the lower score, so the result never depends on sample order."""
    if not scores:
        return None
    counts = Counter(scores)
    top = max(counts.values())
    tied = [s for s, c in counts.items() if c == top]
    if len(tied) == 1:
        return tied[0]
    mean = sum(scores) / len(scores)
    return min(tied, key=lambda s: (abs(s - mean), s))


def _scores(judgments: Sequence[Judgment | int | None]) -> tuple[list[int], int]:
    valid: list[int] = []
    failed = 0
    for j in judgments:
        score = j.score if isinstance(j, Judgment) else j
        if score is None:
            failed += 1
        else:
            valid.append(int(score))
    return valid, failed


def self_consistency(judgments: Sequence[Judgment | int | None], method: ScMethod = "majority") -> Aggregate:
    """Aggregate N sampled pointwise judgments; failed ones are excluded and counted."""
    valid, failed = _scores(judgments)
    if method not in SC_METHODS:
        raise ValueError(f"method must be one of {SC_METHODS}, got {method!r}")
    if not valid:
        return Aggregate(None, method, 0, failed)
    if method == "majority":
        value: float = float(majority_vote(valid))  # type: ignore[arg-type]
    elif method == "mean":
        value = sum(valid) / len(valid)
    else:
        value = float(statistics.median(valid))
    return Aggregate(value, method, len(valid), failed)


def self_consistency_verdict(judgments: Sequence[Judgment]) -> tuple[str | None, int]:
    """Majority A/B verdict over N relative judgments; (None, n_failed) on an even split."""
    verdicts = [j.verdict for j in judgments if j.ok and j.verdict is not None]
    failed = len(judgments) - len(verdicts)
    counts = Counter(verdicts)
    if not verdicts or counts["A"] == counts["B"]:
        return None, failed
    return ("A" if counts["A"] > counts["B"] else "B"), failed


@dataclass(frozen=True)
class Selection:
    """Which of N judgments best-of-N keeps; ``index`` is None when every judgment failed."""

    index: int | None
    judgment: Judgment | None
    n_failed: int
    by: str


SelectBy = Literal["logprob", "scorer", "majority"]


def best_of_n(
    judgments: Sequence[Judgment],
    *,
    by: SelectBy = "logprob",
    logprobs: Sequence[float] | None = None,
    scorer: Callable[[Judgment], float] | None = None,
) -> Selection:
    """Keep one parsed judgment out of N.

    - ``logprob``: highest mean token log-probability (``logprobs[i]`` for judgment i);
    - ``scorer``: highest ``scorer(judgment)`` (a reward model, a meta-judge...);
    - ``majority``: the first judgment that agrees with the majority score/verdict.
    Failed judgments are never selected. Ties keep the earliest sample (deterministic).
    """
    ok = [i for i, j in enumerate(judgments) if j.ok]
    failed = len(judgments) - len(ok)
    if not ok:
        return Selection(None, None, failed, by)
    if by == "logprob":
        if logprobs is None or len(logprobs) != len(judgments):
            raise ValueError("best_of_n(by='logprob') needs one mean log-prob per judgment")
        key = [(-math.inf if math.isnan(logprobs[i]) else logprobs[i]) for i in range(len(judgments))]
        best = max(ok, key=lambda i: (key[i], -i))
    elif by == "scorer":
        if scorer is None:
            raise ValueError("best_of_n(by='scorer') needs a scorer callable")
        values = {i: scorer(judgments[i]) for i in ok}
        best = max(ok, key=lambda i: (values[i], -i))
    elif by == "majority":
        if judgments[ok[0]].mode == "absolute":
            target: int | str | None = majority_vote([judgments[i].score for i in ok])  # type: ignore[misc]
        else:
            target, _ = self_consistency_verdict([judgments[i] for i in ok])
        agreeing = [i for i in ok if judgments[i].value == target]
        best = agreeing[0] if agreeing else ok[0]
    else:
        raise ValueError(f"unknown selection {by!r}")
    return Selection(best, judgments[best], failed, by)


# ---- pairwise outcomes (RewardBench convention: win 1, loss 0, tie/failure 0.5) ----------------


def pointwise_pair_outcome(
    chosen_score: float | None,
    rejected_score: float | None,
    *,
    tie_value: float = 0.5,
    failure_value: float = 0.5,
) -> float:
    """Outcome of grading chosen and rejected separately: the higher score wins."""
    if chosen_score is None or rejected_score is None:
        return failure_value
    if chosen_score == rejected_score:
        return tie_value
    return 1.0 if chosen_score > rejected_score else 0.0


def relative_outcome(judgment: Judgment, chosen_position: Literal["A", "B"], *, failure_value: float = 0.5) -> float:
    """Outcome of one A/B judgment given where the chosen response was shown."""
    if not judgment.ok or judgment.verdict is None:
        return failure_value
    return 1.0 if judgment.verdict == chosen_position else 0.0


def both_orders_outcome(
    chosen_first: Judgment,
    chosen_second: Judgment,
    *,
    require_consistent: bool = True,
    failure_value: float = 0.5,
) -> float:
    """Outcome over both A/B orders (position bias controlled).

    ``chosen_first`` judged (A=chosen, B=rejected); ``chosen_second`` judged (A=rejected, B=chosen).
    With ``require_consistent`` a pair is a win (1) only when both orders prefer chosen, a loss (0)
    only when both prefer rejected, and ``failure_value`` otherwise; without it the two order
    outcomes are averaged.
    """
    first = relative_outcome(chosen_first, "A", failure_value=failure_value)
    second = relative_outcome(chosen_second, "B", failure_value=failure_value)
    if not require_consistent:
        return (first + second) / 2
    if first == second and first in (0.0, 1.0):
        return first
    return failure_value
