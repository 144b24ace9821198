"""lm-evaluation-harness integration: ``selfrat_*`` judge tasks and the ``selfrat-bon`` model.

Importing this package is light (no lm_eval import). The pieces:

- :mod:`.paths` -- where the task YAMLs live (wheel: ``selfrat_eval/tasks``; checkout: ``tasks/``);
- :mod:`.discovery` -- what the start-up hook does once lm-eval is imported (adds the task dir to
  every ``TaskManager`` and registers ``selfrat-bon``), and how it steps aside;
- :mod:`.data` -- benchmark rows -> lm-eval docs (Hub ids by default, ``data_path`` for files);
- :mod:`.task` -- the task class (one or two judgments per doc, N samples for ``*_sc``);
- :mod:`.scoring` -- per-doc records and the aggregations, all through ``selfrat_eval.metrics``;
- :mod:`.bon` -- the ``selfrat-bon`` best-of-N model wrapper.
"""

from __future__ import annotations

from .paths import task_dir

__all__ = ["task_dir"]
