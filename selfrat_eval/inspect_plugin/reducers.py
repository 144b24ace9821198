"""Epoch reducer ``selfrat_eval/majority``: self-consistency exactly as the core computes it.

Inspect's own ``mean`` and ``median`` reducers already match the core (NaN = failed epochs are
skipped per key). Its ``mode`` breaks ties by first occurrence; this reducer uses the core's rules
instead: scores by ``majority_vote`` (ties -> closest to the mean, then lower), A/B preferences by
``self_consistency_verdict`` (an even split is no verdict, counted as a tie/failure).
"""

from __future__ import annotations

import math

from inspect_ai.scorer import Score, ScoreReducer, score_reducer

from ..aggregation import majority_vote

NAN = float("nan")


def _reduce_key(values: list[float], mode: str) -> float:
    valid = [v for v in values if not math.isnan(v)]
    if not valid:
        return NAN
    if mode == "absolute":
        return float(majority_vote([int(v) for v in valid]))  # type: ignore[arg-type]
    # Relative entries are preferences for chosen (1/0): an even split is "no verdict" (0.5).
    wins = sum(v > 0.5 for v in valid)
    losses = sum(v < 0.5 for v in valid)
    return 1.0 if wins > losses else 0.0 if losses > wins else 0.5


@score_reducer
def majority() -> ScoreReducer:
    """Majority over epochs with the core's tie rules, key by key of the judge scorer's dict."""

    def reduce(scores: list[Score]) -> Score:
        dicts = [s for s in scores if isinstance(s.value, dict)]
        if not dicts:
            return Score(value=NAN)
        mode = (dicts[0].metadata or {}).get("parse_mode", "absolute")
        keys = list(dicts[0].value.keys())  # type: ignore[union-attr]
        value = {k: _reduce_key([float(s.value[k]) for s in dicts], mode) for k in keys}  # type: ignore[index]
        n_failed = sum(int((s.metadata or {}).get("n_failed", 0)) for s in dicts)
        return Score(
            value=value,
            answer=" | ".join(str(s.answer) for s in dicts),
            explanation=f"majority over {len(dicts)} epochs",
            metadata={
                **(dicts[0].metadata or {}),
                "n_epochs": len(dicts),
                "n_failed_epoch_judgments": n_failed,
                "epoch_values": [s.value for s in dicts],
            },
        )

    return reduce
