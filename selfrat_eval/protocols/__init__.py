"""One judging protocol per benchmark, shared by every front end.

``get_protocol("rewardbench", BenchmarkOptions(mode="pointwise"))`` gives the protocol; a front end
then

1. loads the items (``protocol.load()``) and renders each item's ``protocol.requests(item)`` in its
   harness (chat messages via ``request.prompt.messages()`` or plain text via ``.text()``);
2. collects the draws of every request and calls :func:`judge_item`, which applies the strategy
   (:mod:`.strategy`) and the protocol's item outcome;
3. computes ``protocol.metrics(results)`` (and ``confidence_intervals``) on the item results.

Nothing else decides a rubric, a mode, a default or a metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import BenchmarkOptions, ItemResult, JudgeRequest, Protocol, parse_flag, parse_names, slug
from .pointwise import BiGGenProtocol, CustomProtocol, FeedbackBenchProtocol
from .rewardbench import RewardBenchProtocol
from .strategy import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_N,
    STRATEGIES,
    Decision,
    Draw,
    Scorer,
    StrategyConfig,
    decide,
)

PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p for p in (BiGGenProtocol, FeedbackBenchProtocol, RewardBenchProtocol, CustomProtocol)
}
BENCHMARKS = tuple(PROTOCOLS)


def get_protocol(name: str, options: BenchmarkOptions | None = None) -> Protocol:
    """The protocol of benchmark ``name`` with these options (validated here, before any data)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return PROTOCOLS[name](options)


def judge_item(
    protocol: Protocol,
    item: Any,
    draws: Mapping[str, Sequence[Draw]],
    strategy: StrategyConfig,
    *,
    scorer: Scorer | None = None,
) -> tuple[ItemResult, dict[str, Decision]]:
    """Decide every request of ``item`` from its draws, then the item's result."""
    decisions: dict[str, Decision] = {}
    for request in protocol.requests(item):
        if request.key not in draws:
            raise ValueError(f"item {getattr(item, 'id', '?')}: no draws for request {request.key!r}")
        decisions[request.key] = decide(
            draws[request.key], strategy, mode=request.mode, scale=request.scale, scorer=scorer
        )
    return protocol.item_result(item, decisions, strategy), decisions


__all__ = [
    "BENCHMARKS",
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_N",
    "PROTOCOLS",
    "STRATEGIES",
    "BenchmarkOptions",
    "Decision",
    "Draw",
    "ItemResult",
    "JudgeRequest",
    "Protocol",
    "StrategyConfig",
    "decide",
    "get_protocol",
    "judge_item",
    "parse_flag",
    "parse_names",
    "slug",
]
