"""Inspect AI front end: a thin adapter over the benchmark protocols (``selfrat_eval.protocols``).

Tasks (one per protocol), the ``judge`` solver, the ``judge_scorer``, the ``judge_metrics`` metric
and the offline provider ``selfrat/scripted``. Importing this package imports ``inspect_ai``;
Inspect loads it through the ``inspect_ai`` entry point (``selfrat_eval._registry``), so
``import selfrat_eval`` itself stays light.
"""

from __future__ import annotations

from .dataset import protocol_dataset
from .metrics import judge_metrics
from .params import JudgeSpec
from .provider import SelfratOfflineAPI
from .scorers import judge_scorer
from .solvers import judge
from .tasks import biggen, custom, feedback_bench, judge_task, rewardbench

__all__ = [
    "JudgeSpec",
    "SelfratOfflineAPI",
    "biggen",
    "custom",
    "feedback_bench",
    "judge",
    "judge_metrics",
    "judge_scorer",
    "judge_task",
    "protocol_dataset",
    "rewardbench",
]
