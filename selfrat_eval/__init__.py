"""selfrat-eval: self-rationalizing LLM judges and judge evaluation.

``import selfrat_eval`` stays light: it never imports torch, transformers, lm_eval, inspect_ai or
vllm; the modules that need them import them.
"""

from __future__ import annotations

from .aggregation import (
    Aggregate,
    Selection,
    best_of_n,
    both_orders_outcome,
    majority_vote,
    pointwise_pair_outcome,
    relative_outcome,
    self_consistency,
)
from .formats import JudgePrompt, absolute_prompt, format_judgment, relative_prompt
from .parsing import Judgment, parse_judgment
from .records import DataError, PairwiseItem, PointwiseItem
from .rubric import BUILTIN_RUBRICS, Rubric, RubricError, get_rubric

__version__ = "0.1.0"

__all__ = [
    "Aggregate",
    "BUILTIN_RUBRICS",
    "DataError",
    "JudgePrompt",
    "Judgment",
    "PairwiseItem",
    "PointwiseItem",
    "Rubric",
    "RubricError",
    "Selection",
    "__version__",
    "absolute_prompt",
    "best_of_n",
    "both_orders_outcome",
    "format_judgment",
    "get_rubric",
    "majority_vote",
    "parse_judgment",
    "pointwise_pair_outcome",
    "relative_outcome",
    "relative_prompt",
    "self_consistency",
]
