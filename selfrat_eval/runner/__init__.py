"""Native judge runner: the benchmark protocols through a cached engine, results JSON and reports.

``run_evaluation(RunConfig(...))`` does one run; ``judge_items(...)`` is the same path without
files (training and the demo use it); ``write_report([...runs], out)`` compares runs.
Heavy libraries (torch, transformers, matplotlib) are imported only when used.
"""

from .cache import GenerationCache, default_cache_dir, model_fingerprint
from .config import RunConfig
from .engine import JudgedPrompt, JudgeEngine, RenderedRequest

__all__ = [
    "GenerationCache",
    "JudgeEngine",
    "JudgedPrompt",
    "RenderedRequest",
    "RunConfig",
    "default_cache_dir",
    "judge_items",
    "model_fingerprint",
    "run_evaluation",
    "write_report",
]


def __getattr__(name: str):  # lazy: evaluate/report pull in numpy, scipy, matplotlib
    if name in ("run_evaluation", "judge_items"):
        from . import evaluate

        return getattr(evaluate, name)
    if name == "write_report":
        from .report import write_report

        return write_report
    raise AttributeError(name)
