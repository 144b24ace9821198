"""The ``judge_scorer``: parse each judgment with the core parser into a per-sample score dict.

Inspect drops samples whose score value is NaN before metrics run, so a failed judgment must not
make the whole value NaN: the value is a dict (``{"score": ...}``, ``{"chosen": ..., "rejected": ...}``
or ``{"chosen_first": ..., "chosen_second": ...}``) whose entries are NaN for failed judgments.
The metrics see every sample and count those failures; Inspect's epoch reducers (mean, median,
mode) skip NaN entries key by key, which is exactly the core's self-consistency rule (failed
samples excluded; NaN only when every epoch failed). The parse error codes are in the score
``metadata`` and ``explanation``.

Pairwise entries hold the preference for the chosen response in that order: 1.0 chosen preferred,
0.0 rejected preferred, NaN unparsable (ties are parse failures in the core parser).
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import TaskState

from ..parsing import Judgment, parse_judgment
from .dataset import CHOSEN_FIRST, CHOSEN_SECOND, MAIN
from .metrics import judge_agreement, parse_rate
from .solvers import JUDGMENTS_KEY

NAN = float("nan")


def _texts(state: TaskState) -> dict[str, str]:
    stored = state.store.get(JUDGMENTS_KEY)
    if stored:
        return {key: rec["text"] for key, rec in stored.items()}
    # Another solver (e.g. plain generate()) produced a single output: only a one-call sample fits.
    prompts = state.metadata.get("prompts", {MAIN: None})
    if len(prompts) != 1:
        raise ValueError(
            "this sample needs several judge calls; use selfrat_eval's judge() solver to produce them"
        )
    return {next(iter(prompts)): state.output.completion}


def judgment_value(key: str, judgment: Judgment) -> float:
    """Numeric value of one parsed judgment in the score dict (NaN when it failed)."""
    if not judgment.ok:
        return NAN
    if judgment.mode == "absolute":
        return float(judgment.score)  # type: ignore[arg-type]
    chosen_position = "A" if key == CHOSEN_FIRST else "B"
    if key not in (CHOSEN_FIRST, CHOSEN_SECOND):
        raise ValueError(f"unknown relative judgment key {key!r}")
    return 1.0 if judgment.verdict == chosen_position else 0.0


@scorer(metrics=[parse_rate(), judge_agreement()])
def judge_scorer() -> Scorer:
    """Parse the sample's judgments; failures stay visible (NaN entry + error code), never defaulted."""

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        mode = meta.get("parse_mode", "absolute")
        scale = tuple(meta.get("scale", (1, 5)))
        value: dict[str, float] = {}
        answers: list[str] = []
        explanations: list[str] = []
        errors: dict[str, str] = {}
        for key, text in _texts(state).items():
            j = parse_judgment(text, mode=mode, scale=scale)  # type: ignore[arg-type]
            value[key] = judgment_value(key, j)
            answers.append(f"{key}={j.value if j.ok else 'FAILED'}")
            if j.ok:
                explanations.append(f"[{key}] {j.rationale}")
            else:
                errors[key] = j.error or "unknown"
                explanations.append(f"[{key}] PARSE FAILURE ({j.error}): {text[:500]}")
        metadata: dict[str, Any] = {
            "parse_mode": mode,
            "parse_errors": errors,
            "n_judgments": len(value),
            "n_failed": sum(math.isnan(v) for v in value.values()),
        }
        return Score(
            value=value,
            answer="; ".join(answers),
            explanation="\n\n".join(explanations),
            metadata=metadata,
        )

    return score
