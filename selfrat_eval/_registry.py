"""Inspect AI entry point (``[project.entry-points.inspect_ai] selfrat_eval``).

Importing the plugin registers, under the ``selfrat_eval/`` namespace: the tasks ``biggen``,
``feedback_bench``, ``rewardbench`` and ``custom``; the ``judge`` solver; the ``judge_scorer``; the
``judge_metrics`` metric; and the offline model provider ``selfrat`` (``--model selfrat/scripted``).
"""

from __future__ import annotations

from .inspect_plugin import (  # noqa: F401 - imported for their registration side effects
    SelfratOfflineAPI,
    biggen,
    custom,
    feedback_bench,
    judge,
    judge_metrics,
    judge_scorer,
    rewardbench,
)
