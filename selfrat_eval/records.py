"""Benchmark records shared by every front end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .rubric import Rubric


class DataError(ValueError):
    """A data file or row is malformed; the message names the source, the row and the field."""


@dataclass(frozen=True)
class PointwiseItem:
    """One response to grade on an absolute scale."""

    id: str
    instruction: str
    response: str
    rubric: Rubric
    reference_answer: str | None = None
    gold_score: int | None = None
    groups: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PairwiseItem:
    """A prompt with a preferred (``chosen``) and a dispreferred (``rejected``) response."""

    id: str
    prompt: str
    chosen: str
    rejected: str
    subset: str
    section: str | None = None
    rubric: Rubric | None = None
    reference_answer: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
