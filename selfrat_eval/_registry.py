"""Inspect AI entry point (``[project.entry-points.inspect_ai] selfrat_eval``).

Importing the plugin registers, under the ``selfrat_eval/`` namespace: the tasks ``biggen``,
``feedback_bench`` and ``rewardbench``; the ``judge`` solver; the ``judge_scorer``; the metrics
``parse_rate``, ``judge_agreement``, ``judge_agreement_by`` and ``rewardbench_accuracy``; the epoch
reducer ``majority``; and the offline model provider ``selfrat`` (``--model selfrat/replay``).
"""

from __future__ import annotations

from .inspect_plugin import (  # noqa: F401 - imported for their registration side effects
    SelfratOfflineAPI,
    biggen,
    feedback_bench,
    judge,
    judge_agreement,
    judge_agreement_by,
    judge_scorer,
    majority,
    parse_rate,
    rewardbench,
    rewardbench_accuracy,
)
