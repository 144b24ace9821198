"""The ``judge_scorer``: the item result the solver stored, as an Inspect score.

The score value is the item result's numeric fields (``pred``, ``outcome``, draw counts ...), with
NaN for None: Inspect drops samples whose whole value is NaN before metrics run, so a failed item
must keep a dict value to be counted. The item's labels (gold, group, subset) stay in the sample
metadata; :func:`item_result` puts both back together for the metric. The score metadata holds
the whole item result and every decision (parse errors, the selected draw, ``selected_by``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from inspect_ai.scorer import SampleScore, Score, Scorer, Target, scorer
from inspect_ai.solver import TaskState

from ..protocols import ItemResult
from .dataset import LABEL_FIELDS
from .solvers import DECISIONS_KEY, RESULT_KEY

TEXT_FIELDS = ("id", "error")  # item-result fields that are neither numbers nor labels


def score_value(result: ItemResult) -> dict[str, float]:
    """Numeric fields of an item result; None -> NaN, bool -> 0.0/1.0."""
    return {
        k: math.nan if v is None else float(v)
        for k, v in result.items()
        if k not in TEXT_FIELDS and k not in LABEL_FIELDS and not isinstance(v, str)
    }


def item_result(sample_id: Any, value: Mapping[str, Any], labels: Mapping[str, Any]) -> ItemResult:
    """An item result back from a (reduced) score value and the sample's labels."""
    numbers = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in value.items()}
    return {"id": str(sample_id), **labels, **numbers}


def sample_result(s: SampleScore) -> ItemResult:
    value = s.score.value
    if not isinstance(value, dict):
        raise TypeError(f"sample {s.sample_id}: expected the judge scorer's dict value, got {value!r}")
    return item_result(s.sample_id, value, (s.sample_metadata or {}).get("labels", {}))


def _answer(decisions: Mapping[str, Mapping[str, Any]]) -> str:
    parts = []
    for key, d in decisions.items():
        value = d["value"]
        shown = f"{value:g}" if isinstance(value, float) else value
        parts.append(f"{key}={shown if value is not None else 'FAILED (' + str(d['error']) + ')'}")
    return "; ".join(parts)


def _explanation(decisions: Mapping[str, Mapping[str, Any]]) -> str:
    parts = []
    for key, d in decisions.items():
        draws = d["draws"]
        selected = d.get("selected")
        how = d.get("selected_by") or "aggregate"
        if selected is not None:
            parts.append(f"[{key}] draw {selected} of {len(draws)} ({how}): {draws[selected]['text']}")
        else:
            parts.append(f"[{key}] {how} over {len(draws)} draws")
        failed = [i for i, row in enumerate(draws) if row["parse_error"]]
        if failed:
            errors = ", ".join(f"{i}: {draws[i]['parse_error']}" for i in failed)
            parts.append(f"[{key}] unparsable draws ({errors}); first: {draws[failed[0]]['text'][:500]}")
    return "\n\n".join(parts)


@scorer(metrics=[])
def judge_scorer() -> Scorer:
    """Score the item result the ``judge`` solver stored (its metric comes with the task)."""

    async def score(state: TaskState, target: Target) -> Score:
        result = state.store.get(RESULT_KEY)
        if result is None:
            raise ValueError("judge_scorer needs the selfrat_eval judge() solver to run first")
        decisions = state.store.get(DECISIONS_KEY) or {}
        return Score(
            value=score_value(result),
            answer=_answer(decisions),
            explanation=_explanation(decisions),
            metadata={"result": result, "decisions": decisions},
        )

    return score
