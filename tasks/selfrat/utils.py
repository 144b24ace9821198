"""Functions the selfrat_* task YAMLs reference with ``!function utils.<name>``.

The implementation lives in ``selfrat_eval.lm_eval_plugin`` so that it is tested and versioned with
the package; this module only re-exports it for lm-eval's YAML loader.
"""

from selfrat_eval.lm_eval_plugin.data import load_dataset
from selfrat_eval.lm_eval_plugin.task import SelfratJudgeTask

__all__ = ["SelfratJudgeTask", "load_dataset"]
