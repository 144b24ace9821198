"""Rationale-score consistency checks for curation (``curation.consistency``).

A gold-anchored preference pair only checks a judgment's final score. When a rationale's own
reasoning implies a different score than the one it states, the judgment can still land on the
gold score, and DPO would then prefer that reasoning. A check names a format-specific test
``(rationale, score) -> bool`` that uses only the judgment's text; chosen judgments (and
rejection-sampling SFT examples) must pass it. Checks are imported lazily by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .named import resolve

Check = Callable[[str, int], bool]

# name -> "module:function"
CONSISTENCY_CHECKS: dict[str, str] = {
    # the demo's synthetic constraint tasks: score = 1 + the verdicts the rationale calls met
    "constraint-count": "selfrat_eval.demo.data:score_follows_verdicts",
    # ... and every verdict is the one its own cited evidence implies ("= 2, asked 2" -> met)
    "constraint-evidence": "selfrat_eval.demo.data:verdicts_follow_evidence",
}


def consistency_check(name: str | None) -> Check | None:
    """The check called ``name`` (None: no check)."""
    return resolve(CONSISTENCY_CHECKS, name, "consistency check")


def passes(check: Check | None, sample: Mapping[str, Any]) -> bool:
    """Whether a parsed sampled judgment (``rationale``, ``score``) passes ``check`` (no check: yes)."""
    return check is None or check(str(sample["rationale"]), int(sample["score"]))
