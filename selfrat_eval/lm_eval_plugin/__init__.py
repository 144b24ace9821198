"""lm-evaluation-harness integration: ``selfrat_*`` judge tasks and the ``selfrat-judge`` model.

Importing this package is light (no lm_eval import). The pieces:

- :mod:`.paths` -- where the task YAMLs live (wheel: ``selfrat_eval/tasks``; checkout: ``tasks/``);
- :mod:`.discovery` -- what the start-up hook does once lm-eval is imported (adds the task dir to
  every ``TaskManager`` and registers ``selfrat-judge``), and how it steps aside;
- :mod:`.data` -- protocol items -> lm-eval docs (the task's protocol and strategy from its metadata);
- :mod:`.task` -- the task class: an adapter over the benchmark protocol (requests, decisions, metrics);
- :mod:`.judge_model` -- the ``selfrat-judge`` wrapper that attaches the log-probs best-of-N and
  expected-score judging need.
"""

from __future__ import annotations

from .paths import task_dir

__all__ = ["task_dir"]
