"""Native judge runner: strategies, generation cache with resume, results JSON and HTML reports.

``run_evaluation(RunConfig(...))`` does one run; ``write_report([...runs], out)`` compares runs.
Heavy libraries (torch, transformers, matplotlib) are imported only when used.
"""

from .cache import GenerationCache, default_cache_dir, model_fingerprint
from .config import RunConfig
from .engine import JudgedPrompt, JudgeEngine, JudgeRequest

__all__ = [
    "GenerationCache",
    "JudgeEngine",
    "JudgeRequest",
    "JudgedPrompt",
    "RunConfig",
    "default_cache_dir",
    "model_fingerprint",
    "run_evaluation",
    "write_report",
]


def __getattr__(name: str):  # lazy: evaluate/report pull in numpy, scipy, matplotlib
    if name == "run_evaluation":
        from .evaluate import run_evaluation

        return run_evaluation
    if name == "write_report":
        from .report import write_report

        return write_report
    raise AttributeError(name)
