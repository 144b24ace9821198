"""Inspect tasks ``selfrat_eval/biggen``, ``feedback_bench``, ``rewardbench`` and ``custom``.

Each task is its benchmark protocol (``selfrat_eval.protocols``) in Inspect's terms: the protocol's
items as samples, the ``judge`` solver, the ``judge_scorer`` and the ``judge_metrics`` metric. The
task parameters are the :class:`~selfrat_eval.protocols.BenchmarkOptions` fields plus the strategy
(:mod:`.params`); a parameter left out means the protocol's default, so
``inspect eval selfrat_eval/rewardbench`` judges exactly like ``selfrat evaluate --benchmark rewardbench``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from inspect_ai import Task, task

from ..protocols import PROTOCOLS
from .dataset import load_items, protocol_dataset
from .metrics import judge_metrics
from .params import JudgeSpec
from .scorers import judge_scorer
from .solvers import judge


def judge_task(benchmark: str, params: dict[str, Any]) -> Task:
    """The Inspect task of ``benchmark`` with these task parameters."""
    spec = JudgeSpec.from_params(benchmark, params)
    protocol, items, info = load_items(spec)
    options = spec.options_args()
    return Task(
        dataset=protocol_dataset(protocol, items, info["source"]),
        solver=judge(benchmark=benchmark, options=options, strategy=spec.strategy_args()),
        scorer=judge_scorer(),
        metrics=[judge_metrics(benchmark=benchmark, options=options)],
        config=spec.generate_config(),
        metadata={"benchmark": benchmark, "strategy": spec.strategy.label(), **info},
    )


def _judge_task_fn(benchmark: str) -> Callable[..., Task]:
    # One signature for every task: the option names are the same everywhere, and the protocol
    # refuses the ones that mean nothing for its benchmark.
    def fn(
        data: str | None = None,
        split: str | None = None,
        mode: str | None = None,
        rubric: str | None = None,
        reference: bool | str | None = None,
        subsets: str | Sequence[str] | None = None,
        sections: str | Sequence[str] | None = None,
        include_multilingual: bool | str | None = None,
        skip_llm_judge_tasks: bool | str | None = None,
        require_consistent: bool | str | None = None,
        limit: int | None = None,
        strategy: str = "greedy",
        n: int | None = None,
        sc_method: str = "majority",
        select_by: str = "logprob",
        scorer: str | None = None,
        **unknown: Any,
    ) -> Task:
        params = {
            "data": data, "split": split, "mode": mode, "rubric": rubric, "reference": reference,
            "subsets": subsets, "sections": sections, "include_multilingual": include_multilingual,
            "skip_llm_judge_tasks": skip_llm_judge_tasks, "require_consistent": require_consistent,
            "limit": limit, "strategy": strategy, "n": n, "sc_method": sc_method,
            "select_by": select_by, "scorer": scorer, **unknown,
        }  # fmt: skip
        return judge_task(benchmark, params)

    fn.__name__ = fn.__qualname__ = benchmark
    fn.__doc__ = f"{PROTOCOLS[benchmark].description} (selfrat_eval protocol {benchmark!r})."
    return task(name=benchmark)(fn)


biggen = _judge_task_fn("biggen")
feedback_bench = _judge_task_fn("feedback_bench")
rewardbench = _judge_task_fn("rewardbench")
custom = _judge_task_fn("custom")
