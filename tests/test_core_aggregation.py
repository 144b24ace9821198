"""Self-consistency, best-of-N and pairwise outcome rules."""

from __future__ import annotations

import itertools

import pytest

from selfrat_eval import (
    best_of_n,
    both_orders_outcome,
    majority_vote,
    parse_judgment,
    pointwise_pair_outcome,
    relative_outcome,
    self_consistency,
)
from selfrat_eval.aggregation import self_consistency_verdict


def J(text: str, mode: str = "absolute"):
    return parse_judgment(text, mode=mode)  # type: ignore[arg-type]


def test_majority_vote_tie_break_is_order_independent() -> None:
    assert majority_vote([4, 4, 2]) == 4
    # 2 and 5 tie; the mean is 3.4, closest tied score is 2 whatever the order.
    for perm in itertools.permutations([2, 5, 2, 5, 3]):
        assert majority_vote(list(perm)) == 2
    # equal distance to the mean (3): the lower one wins
    assert majority_vote([2, 4]) == 2 and majority_vote([4, 2]) == 2
    assert majority_vote([]) is None


def test_self_consistency_methods_exclude_and_count_failures() -> None:
    js = [J("a [RESULT] 4"), J("b [RESULT] 5"), J("garbage"), J("c [RESULT] 4"), J("d [RESULT] 1")]
    maj = self_consistency(js, "majority")
    assert (maj.value, maj.n_valid, maj.n_failed) == (4.0, 4, 1)
    assert self_consistency(js, "mean").value == pytest.approx(3.5)
    assert self_consistency(js, "median").value == pytest.approx(4.0)
    none = self_consistency([J("x"), J("y [RESULT] 9")], "mean")
    assert none.value is None and none.n_failed == 2
    with pytest.raises(ValueError):
        self_consistency(js, "mode")  # type: ignore[arg-type]


def test_best_of_n_by_logprob_never_selects_failures() -> None:
    js = [J("a [RESULT] 2"), J("unparsable"), J("b [RESULT] 5")]
    sel = best_of_n(js, by="logprob", logprobs=[-1.0, -0.1, -0.5])
    assert sel.index == 2 and sel.judgment.score == 5 and sel.n_failed == 1
    tie = best_of_n(js, by="logprob", logprobs=[-0.5, -0.1, -0.5])
    assert tie.index == 0
    assert best_of_n([J("x"), J("y")], by="logprob", logprobs=[0.0, 0.0]).index is None
    with pytest.raises(ValueError, match="one mean log-prob"):
        best_of_n(js, by="logprob", logprobs=[0.0])


def test_best_of_n_by_scorer_and_majority() -> None:
    js = [J("short [RESULT] 3"), J("a much longer rationale [RESULT] 4"), J("mid one [RESULT] 3")]
    assert best_of_n(js, by="scorer", scorer=lambda j: len(j.rationale)).index == 1
    assert best_of_n(js, by="majority").index == 0
    rel = [J("[RESULT] B", "relative"), J("[RESULT] A", "relative"), J("[RESULT] A", "relative")]
    assert best_of_n(rel, by="majority").index == 1


def test_pointwise_pair_outcome() -> None:
    assert pointwise_pair_outcome(5, 3) == 1.0
    assert pointwise_pair_outcome(2, 3) == 0.0
    assert pointwise_pair_outcome(3, 3) == 0.5
    assert pointwise_pair_outcome(None, 3) == 0.5
    assert pointwise_pair_outcome(None, 3, failure_value=0.0) == 0.0
    assert pointwise_pair_outcome(3, 3, tie_value=0.0) == 0.0


def test_both_orders_requires_consistency() -> None:
    A, B, bad = J("[RESULT] A", "relative"), J("[RESULT] B", "relative"), J("??", "relative")
    assert relative_outcome(A, "A") == 1.0 and relative_outcome(A, "B") == 0.0 and relative_outcome(bad, "A") == 0.5
    assert both_orders_outcome(A, B) == 1.0  # chosen first -> A; chosen second -> B: consistent win
    assert both_orders_outcome(B, A) == 0.0  # consistent loss
    assert both_orders_outcome(A, A) == 0.5  # position bias: always A
    assert both_orders_outcome(A, bad) == 0.5
    assert both_orders_outcome(A, A, require_consistent=False) == 0.5
    assert both_orders_outcome(A, bad, require_consistent=False) == 0.75


def test_self_consistency_verdict() -> None:
    rel = [J("[RESULT] A", "relative"), J("[RESULT] B", "relative"), J("[RESULT] A", "relative"), J("x", "relative")]
    assert self_consistency_verdict(rel) == ("A", 1)
    assert self_consistency_verdict(rel[:2]) == (None, 0)
