"""Protocol items -> lm-eval docs for the ``selfrat_*`` tasks.

lm-eval calls :func:`load_dataset` as the tasks' ``custom_dataset`` with the task metadata as
keyword arguments (the YAML ``metadata`` merged with ``--metadata``, and lm-eval 0.4.13 adds the
model args). Everything about the benchmark comes from :mod:`selfrat_eval.protocols`: the options
are :class:`~selfrat_eval.protocols.BenchmarkOptions` fields by name (``data``, ``split``, ``mode``,
``rubric``, ``reference``, ``subsets``, ``sections``, ``limit`` ...; ``<benchmark>_data`` sets the
data of one benchmark when a group runs several), the strategy is the task's own
``selfrat_strategy`` with ``n``/``sc_method``/``select_by`` (``logprob`` or ``majority``: lm-eval has
no way to pass an external scorer). A doc carries its item's judge prompts (rendered the lm-eval way by the task class)
and its position in the protocol's item list, which the task uses to hand results back to the
protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..protocols import BenchmarkOptions, Protocol, StrategyConfig, get_protocol

log = logging.getLogger(__name__)

BENCHMARK_KEY = "selfrat_benchmark"  # YAML metadata: which protocol
STRATEGY_KEY = "selfrat_strategy"  # YAML metadata: the task's strategy


@dataclass(frozen=True)
class TaskSpec:
    """A task's protocol and strategy, built from its metadata (one place for both)."""

    protocol: Protocol
    strategy: StrategyConfig

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> TaskSpec:
        benchmark = meta.get(BENCHMARK_KEY)
        if not benchmark:
            raise ValueError(f"selfrat task metadata needs {BENCHMARK_KEY!r}")
        values = dict(meta)
        if meta.get(f"{benchmark}_data"):
            values["data"] = meta[f"{benchmark}_data"]
        options = BenchmarkOptions.from_mapping(values, where=f"selfrat_{benchmark} metadata")
        name = str(meta.get(STRATEGY_KEY) or "greedy")
        select_by = str(meta.get("select_by") or "logprob")
        if select_by == "scorer":
            raise ValueError(
                "select_by=scorer needs an external scorer function, which lm-eval cannot pass; use "
                "logprob or majority here, or the runner (--scorer) / Inspect (-T scorer=)"
            )
        n = meta.get("n")
        if name in ("greedy", "expected-score"):
            n = None  # --metadata is shared by every task of a run: n is for the sampling strategies
        strategy = StrategyConfig(
            name,  # type: ignore[arg-type]
            n=int(n) if n not in (None, "") else None,
            sc_method=str(meta.get("sc_method") or "majority"),
            select_by=select_by,
        )
        return cls(get_protocol(str(benchmark), options), strategy)


# Items of the loaded tasks, by (benchmark, options): lm-eval keeps docs as plain dicts, the
# protocol needs its items back to decide outcomes.
_ITEMS: dict[tuple[str, BenchmarkOptions], list[Any]] = {}


def items_of(protocol: Protocol) -> list[Any]:
    key = (protocol.name, protocol.options)
    if key not in _ITEMS:
        _ITEMS[key] = list(protocol.load().items)
    return _ITEMS[key]


def build_docs(spec: TaskSpec) -> list[dict[str, Any]]:
    protocol, strategy = spec.protocol, spec.strategy
    docs = []
    for index, item in enumerate(items_of(protocol)):
        requests = protocol.requests(item)
        docs.append(
            {
                "id": str(item.id),
                "index": index,
                "benchmark": protocol.name,
                "strategy": strategy.name,
                "label": protocol.labels(item),
                "requests": [
                    {
                        "key": r.key,
                        "system": r.prompt.system,
                        "user": r.prompt.user,
                        "mode": r.mode,
                        "scale_low": r.scale[0],
                        "scale_high": r.scale[1],
                    }
                    for r in requests
                ],
                # lm-eval renders description / doc_to_text from these (the first request); the
                # task class swaps them per request when an item has two.
                "judge_system": requests[0].prompt.system,
                "judge_user": requests[0].prompt.user,
                "target": "",
            }
        )
    if not docs:
        raise ValueError(f"{protocol.source}: no items for {protocol.name} after the filters")
    return docs


def load_dataset(**metadata: Any) -> Any:
    """lm-eval ``custom_dataset``: a ``DatasetDict`` with one ``test`` split of docs."""
    import datasets

    spec = TaskSpec.from_metadata(metadata)
    docs = build_docs(spec)
    log.info("selfrat %s: %d docs from %s", spec.protocol.name, len(docs), spec.protocol.source)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
