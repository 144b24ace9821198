"""Dataset adapters: core benchmark records -> Inspect samples carrying their grading prompts.

Every sample stores, in ``metadata``, the judge calls it needs (``prompts``: key -> user message,
built with the core's Prometheus formats), the system message, how to parse the outputs and the
gold labels the metrics read. The sample ``input`` is the first prompt, so the log viewer shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser

from ..formats import absolute_prompt, relative_prompt
from ..records import DataError, PairwiseItem, PointwiseItem
from ..rubric import Rubric

PairMode = Literal["pairwise", "pointwise"]

# Keys of the judge calls a sample holds (metadata["prompts"]).
MAIN = "score"
CHOSEN = "chosen"
REJECTED = "rejected"
CHOSEN_FIRST = "chosen_first"  # A = chosen, B = rejected
CHOSEN_SECOND = "chosen_second"  # A = rejected, B = chosen


def _input(system: str | None, user: str) -> list[ChatMessage]:
    messages: list[ChatMessage] = [ChatMessageUser(content=user)]
    if system:
        messages.insert(0, ChatMessageSystem(content=system))
    return messages


def _check_unique(samples: Sequence[Sample], source: str) -> None:
    seen: set[str] = set()
    for s in samples:
        if str(s.id) in seen:
            raise DataError(f"{source}: duplicate item id {s.id!r} (Inspect sample ids must be unique)")
        seen.add(str(s.id))


def pointwise_samples(
    items: Iterable[PointwiseItem],
    *,
    use_reference: bool = True,
    system_message: bool = True,
    name: str = "pointwise",
    source: str = "items",
) -> MemoryDataset:
    """One absolute-grading sample per item; ``target`` is the gold score (empty when unknown)."""
    samples: list[Sample] = []
    for item in items:
        prompt = absolute_prompt(
            item.instruction,
            item.response,
            item.rubric,
            item.reference_answer if use_reference else None,
        )
        system = prompt.system if system_message else None
        samples.append(
            Sample(
                id=item.id,
                input=_input(system, prompt.user),
                target="" if item.gold_score is None else str(item.gold_score),
                metadata={
                    "kind": "pointwise",
                    "parse_mode": "absolute",
                    "scale": list(item.rubric.scale),
                    "system": system,
                    "prompts": {MAIN: prompt.user},
                    "gold": item.gold_score,
                    "groups": dict(item.groups),
                },
            )
        )
    _check_unique(samples, source)
    return MemoryDataset(samples, name=name, location=source)


def pairwise_samples(
    items: Iterable[PairwiseItem],
    *,
    mode: PairMode = "pairwise",
    rubric: Rubric,
    use_reference: bool = True,
    system_message: bool = True,
    require_consistent: bool = True,
    name: str = "pairwise",
    source: str = "items",
) -> MemoryDataset:
    """RewardBench-style samples.

    ``pairwise``: two relative (A/B) calls, chosen shown first and chosen shown second, so position
    bias cannot win a pair. ``pointwise``: chosen and rejected graded separately on the absolute
    scale; the higher score wins.
    """
    if mode not in ("pairwise", "pointwise"):
        raise ValueError(f"mode must be 'pairwise' or 'pointwise', got {mode!r}")
    samples: list[Sample] = []
    for item in items:
        item_rubric = item.rubric or rubric
        ref = item.reference_answer if use_reference else None
        meta: dict[str, Any] = {
            "subset": item.subset,
            "section": item.section,
            "scale": list(item_rubric.scale),
            "require_consistent": require_consistent,
        }
        if mode == "pairwise":
            first = relative_prompt(item.prompt, item.chosen, item.rejected, item_rubric, ref)
            second = relative_prompt(item.prompt, item.rejected, item.chosen, item_rubric, ref)
            system = first.system if system_message else None
            meta.update(
                kind="rewardbench_pairwise",
                parse_mode="relative",
                system=system,
                prompts={CHOSEN_FIRST: first.user, CHOSEN_SECOND: second.user},
            )
            user = first.user
        else:
            chosen = absolute_prompt(item.prompt, item.chosen, item_rubric, ref)
            rejected = absolute_prompt(item.prompt, item.rejected, item_rubric, ref)
            system = chosen.system if system_message else None
            meta.update(
                kind="rewardbench_pointwise",
                parse_mode="absolute",
                system=system,
                prompts={CHOSEN: chosen.user, REJECTED: rejected.user},
            )
            user = chosen.user
        samples.append(Sample(id=item.id, input=_input(system, user), target="chosen", metadata=meta))
    _check_unique(samples, source)
    return MemoryDataset(samples, name=name, location=source)
