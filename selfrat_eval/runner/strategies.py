"""Test-time strategies over the N judgments of one prompt (greedy, self-consistency, best-of-N).

All aggregation is delegated to ``selfrat_eval.aggregation`` so every front end agrees; this module
only picks the right call and records which sample decided.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..aggregation import Selection, best_of_n, self_consistency, self_consistency_verdict
from ..parsing import TIE, Judgment
from .engine import JudgedPrompt

Scorer = Callable[[Judgment], float]


@dataclass(frozen=True)
class Decision:
    """What a strategy concluded for one prompt: a score (absolute) or a verdict judgment (relative)."""

    score: float | None = None
    verdict: Judgment | None = None
    selected: int | None = None  # index of the deciding sample (greedy / best-of-N)
    n_valid: int = 0
    n_failed: int = 0


def load_scorer(spec: str) -> Scorer:
    """``module:function`` -> callable(Judgment) -> float, for best-of-N by an external scorer."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"scorer must look like 'package.module:function', got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import scorer {spec!r}: {exc}") from exc
    if not callable(fn):
        raise ValueError(f"scorer {spec!r} is not callable")
    return fn


def _logprobs(jp: JudgedPrompt) -> list[float]:
    values = [s.mean_logprob for s in jp.samples]
    if all(s.token_logprobs is None for s in jp.samples):
        raise ValueError("best-of-n by logprob needs token log-probs; this backend returned none")
    return values


def decide_score(
    jp: JudgedPrompt,
    strategy: str,
    *,
    sc_method: str = "majority",
    select_by: str = "logprob",
    scorer: Scorer | None = None,
) -> Decision:
    """Pointwise score of one prompt; None when every judgment failed (counted, never defaulted)."""
    failed = jp.n_failed
    valid = len(jp.judgments) - failed
    if strategy == "greedy":
        j = jp.judgments[0]
        return Decision(
            score=float(j.score) if j.ok and j.score is not None else None,
            selected=0,
            n_valid=valid,
            n_failed=failed,
        )
    if strategy == "self-consistency":
        agg = self_consistency(jp.judgments, sc_method)  # type: ignore[arg-type]
        return Decision(score=agg.value, n_valid=agg.n_valid, n_failed=agg.n_failed)
    if strategy == "best-of-n":
        sel = _select(jp, select_by, scorer)
        score = (
            float(sel.judgment.score) if sel.judgment is not None and sel.judgment.score is not None else None
        )
        return Decision(score=score, selected=sel.index, n_valid=valid, n_failed=sel.n_failed)
    raise ValueError(f"unknown strategy {strategy!r}")


def _select(jp: JudgedPrompt, select_by: str, scorer: Scorer | None) -> Selection:
    return best_of_n(
        jp.judgments,
        by=select_by,  # type: ignore[arg-type]
        logprobs=_logprobs(jp) if select_by == "logprob" else None,
        scorer=scorer,
    )


def decide_verdict(
    jp: JudgedPrompt, strategy: str, *, select_by: str = "logprob", scorer: Scorer | None = None
) -> Decision:
    """A/B verdict of one relative prompt, as a Judgment (failed when no verdict)."""
    failed = jp.n_failed
    valid = len(jp.judgments) - failed
    if strategy == "greedy":
        return Decision(verdict=jp.judgments[0], selected=0, n_valid=valid, n_failed=failed)
    if strategy == "self-consistency":
        verdict, n_failed = self_consistency_verdict(jp.judgments)
        judgment = Judgment(
            text="",
            rationale="",
            mode="relative",
            verdict=verdict,
            error=None if verdict else (TIE if valid else "all_failed"),
        )
        return Decision(verdict=judgment, n_valid=valid, n_failed=n_failed)
    if strategy == "best-of-n":
        sel = _select(jp, select_by, scorer)
        judgment = sel.judgment or Judgment(text="", rationale="", mode="relative", error="all_failed")
        return Decision(verdict=judgment, selected=sel.index, n_valid=valid, n_failed=sel.n_failed)
    raise ValueError(f"unknown strategy {strategy!r}")
