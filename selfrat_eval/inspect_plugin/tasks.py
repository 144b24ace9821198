"""Inspect tasks ``selfrat_eval/biggen``, ``selfrat_eval/feedback_bench`` and ``selfrat_eval/rewardbench``.

Data come from the Hugging Face Hub ids by default or from ``-T data_path=<local file or dir>`` in
the same layout (loaded by ``selfrat_eval.loaders``). Sampling defaults follow the reference
Prometheus library (temperature 1.0, top_p 0.9, 1024 new tokens); ``--temperature`` etc. override.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspect_ai import Task, task
from inspect_ai.model import GenerateConfig

from ..loaders import (
    BIGGEN_RESULTS_HUB_ID,
    FEEDBACK_BENCH_HUB_ID,
    REWARDBENCH_HUB_ID,
    load_biggen_human_eval,
    load_feedback_bench,
    load_rewardbench,
)
from ..rubric import get_rubric
from .dataset import pairwise_samples, pointwise_samples
from .metrics import judge_agreement, judge_agreement_by, parse_rate, rewardbench_accuracy
from .scorers import judge_scorer
from .solvers import Strategy, judge

REFERENCE_SAMPLING = GenerateConfig(temperature=1.0, top_p=0.9, max_tokens=1024)


def _judge_task(dataset: Any, metrics: list[Any], n: int, strategy: Strategy, metadata: dict[str, Any]) -> Task:
    """Every selfrat task: the judge solver, the core-parsing scorer, the reference sampling."""
    return Task(
        dataset=dataset,
        solver=judge(n=n, strategy=strategy),
        scorer=judge_scorer(),
        metrics=[parse_rate(), *metrics],
        config=REFERENCE_SAMPLING,
        metadata=metadata,
    )


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    """``-T subsets=a,b`` arrives as a string, a YAML list as a list."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


@task
def biggen(
    data_path: str = BIGGEN_RESULTS_HUB_ID,
    split: str = "human_eval",
    reference: bool = True,
    system_message: bool = True,
    include_multilingual: bool = False,
    skip_llm_judge_tasks: bool = False,
    group_by: str = "capability",
    n: int = 1,
    strategy: Strategy = "logprob",
) -> Task:
    """BiGGen Bench human agreement: grade each response 1..5; Pearson/Spearman/Kendall vs humans."""
    loaded = load_biggen_human_eval(
        data_path,
        split,
        include_multilingual=include_multilingual,
        skip_llm_judge_tasks=skip_llm_judge_tasks,
    )
    dataset = pointwise_samples(
        loaded, use_reference=reference, system_message=system_message, name="biggen", source=loaded.source
    )
    return _judge_task(dataset, [judge_agreement(), judge_agreement_by(group=group_by)], n, strategy, {"dropped": loaded.dropped, "source": loaded.source})


@task
def feedback_bench(
    data_path: str = FEEDBACK_BENCH_HUB_ID,
    split: str = "train",
    reference: bool = True,
    system_message: bool = True,
    n: int = 1,
    strategy: Strategy = "logprob",
) -> Task:
    """Feedback Bench: grade each response 1..5; Pearson/Spearman/Kendall vs ``orig_score``."""
    loaded = load_feedback_bench(data_path, split)
    dataset = pointwise_samples(
        loaded,
        use_reference=reference,
        system_message=system_message,
        name="feedback_bench",
        source=loaded.source,
    )
    return _judge_task(dataset, [judge_agreement()], n, strategy, {"source": loaded.source})


@task
def rewardbench(
    data_path: str = REWARDBENCH_HUB_ID,
    split: str = "filtered",
    mode: str = "pairwise",
    subsets: str | list[str] | None = None,
    sections: str | list[str] | None = None,
    rubric: str = "helpfulness",
    system_message: bool = True,
    require_consistent: bool = True,
    n: int = 1,
    strategy: Strategy = "logprob",
) -> Task:
    """RewardBench: per-subset, per-section (official weights) and overall accuracy.

    ``mode=pairwise`` judges A/B in both orders (a win needs both orders when
    ``require_consistent``); ``mode=pointwise`` grades chosen and rejected separately.
    """
    loaded = load_rewardbench(data_path, split, subsets=_names(subsets), sections=_names(sections))
    dataset = pairwise_samples(
        loaded,
        mode=mode,  # type: ignore[arg-type]
        rubric=get_rubric(rubric),
        system_message=system_message,
        require_consistent=require_consistent,
        name="rewardbench",
        source=loaded.source,
    )
    return _judge_task(dataset, [rewardbench_accuracy()], n, strategy, {"dropped": loaded.dropped, "source": loaded.source, "mode": mode})
