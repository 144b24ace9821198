"""Inspect AI front end: judge tasks, solvers, scorers, metrics, reducers and an offline provider.

Importing this package imports ``inspect_ai``; Inspect loads it through the ``inspect_ai`` entry
point (``selfrat_eval._registry``), so ``import selfrat_eval`` itself stays light.
"""

from __future__ import annotations

from .dataset import pairwise_samples, pointwise_samples
from .metrics import judge_agreement, judge_agreement_by, parse_rate, rewardbench_accuracy
from .provider import SelfratOfflineAPI
from .reducers import majority
from .scorers import judge_scorer
from .solvers import judge
from .tasks import biggen, feedback_bench, rewardbench

__all__ = [
    "SelfratOfflineAPI",
    "biggen",
    "feedback_bench",
    "judge",
    "judge_agreement",
    "judge_agreement_by",
    "judge_scorer",
    "majority",
    "pairwise_samples",
    "parse_rate",
    "pointwise_samples",
    "rewardbench",
    "rewardbench_accuracy",
]
