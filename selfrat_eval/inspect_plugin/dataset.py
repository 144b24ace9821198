"""Protocol items -> Inspect samples, and the item behind a sample for the solver.

One sample per item (``protocol.load()``): ``id`` is the item id, ``input`` the first judge
request's messages (exactly ``request.prompt.messages()``, so the viewer shows a real prompt), and
``metadata`` holds every request (key, mode, scale, messages) and the item's labels (gold score,
group or subset) that the metric needs. The solver judges the item object itself (the protocol's
``judge_item`` needs it), found again here by benchmark, options and sample id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

from ..protocols import Decision, ItemResult, Protocol, StrategyConfig, get_protocol
from ..records import DataError
from .params import JudgeSpec

# Fields of an item result that the item itself decides (not the judge); the metric reads them
# from the sample metadata.
LABEL_FIELDS = ("gold", "group", "subset")

_ROLES: dict[str, type[ChatMessage]] = {
    "system": ChatMessageSystem,
    "user": ChatMessageUser,
    "assistant": ChatMessageAssistant,
}

# (benchmark, options) -> (protocol, items by id) of the last task built with them.
_LOADED: dict[tuple[str, Any], tuple[Protocol, dict[str, Any]]] = {}


def chat_messages(messages: Sequence[dict[str, str]]) -> list[ChatMessage]:
    """``[{"role": ..., "content": ...}]`` -> Inspect chat messages."""
    return [_ROLES[m["role"]](content=m["content"]) for m in messages]


def load_items(spec: JudgeSpec) -> tuple[Protocol, list[Any], dict[str, Any]]:
    """The protocol, its items and a description of the data; the items are kept for the solver."""
    protocol = get_protocol(spec.benchmark, spec.options)
    loaded = protocol.load()
    items = list(loaded.items)
    if not items:
        raise DataError(
            f"no items to evaluate in {loaded.source} (dropped on purpose: {dict(loaded.dropped)})"
        )
    by_id = {str(item.id): item for item in items}  # ids are unique: the loaders refuse duplicates
    _LOADED[(spec.benchmark, spec.options)] = (protocol, by_id)
    info = {"source": str(loaded.source), "n_items": len(items), "dropped": dict(loaded.dropped)}
    return protocol, items, info


def item_of(spec: JudgeSpec, sample_id: str | int) -> tuple[Protocol, Any]:
    """The protocol and the item behind a sample (loading the data if no task did)."""
    key = (spec.benchmark, spec.options)
    if key not in _LOADED:
        load_items(spec)
    protocol, by_id = _LOADED[key]
    if str(sample_id) not in by_id:
        raise ValueError(f"sample {sample_id!r} is not an item of {spec.benchmark} with these options")
    return protocol, by_id[str(sample_id)]


def item_labels(protocol: Protocol, item: Any) -> dict[str, Any]:
    """The label fields of the item's result, read from a result whose requests all went undecided
    (labels do not depend on the decisions)."""
    undecided = {r.key: Decision(None, "undecided", 0, 0) for r in protocol.requests(item)}
    template: ItemResult = protocol.item_result(item, undecided, StrategyConfig())
    return {k: template[k] for k in LABEL_FIELDS if k in template}


def protocol_dataset(protocol: Protocol, items: Sequence[Any], source: str) -> MemoryDataset:
    samples = []
    for item in items:
        requests = protocol.requests(item)
        samples.append(
            Sample(
                id=str(item.id),
                input=chat_messages(requests[0].prompt.messages()),
                metadata={
                    "benchmark": protocol.name,
                    "labels": item_labels(protocol, item),
                    "requests": [
                        {
                            "key": r.key,
                            "mode": r.mode,
                            "scale": list(r.scale),
                            "messages": r.prompt.messages(),
                        }
                        for r in requests
                    ],
                },
            )
        )
    return MemoryDataset(samples, name=protocol.name, location=source)
