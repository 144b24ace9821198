"""What a benchmark protocol is: options, judge requests, per-item results and metrics.

A protocol is the only place that decides, for one benchmark, the loader and its defaults, the
rubric policy, the default mode, the judge requests of an item, the item outcome and the metrics.
Front ends (runner, lm-eval, Inspect, training, demo) render its requests in their harness, hand the
draws back to :func:`selfrat_eval.protocols.strategy.decide`, then to :meth:`Protocol.item_result`
and :meth:`Protocol.metrics`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from ..config_cli import option
from ..formats import JudgePrompt
from ..loaders import Loaded
from ..parsing import ParseMode
from .strategy import Decision, StrategyConfig

PairMode = Literal["pairwise", "pointwise"]
MODES: tuple[PairMode, ...] = ("pairwise", "pointwise")

# An item result is a flat JSON-able dict: what lm-eval keeps per doc, what Inspect's scorer stores,
# what the runner writes. Every metric is computed from a list of them.
ItemResult = dict[str, Any]


def slug(name: str) -> str:
    """Metric-name form of a label: ``Chat Hard`` -> ``chat_hard``."""
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


@dataclass(frozen=True)
class BenchmarkOptions:
    """Data and grading options of a benchmark run (the same names in every front end).

    ``None`` means "the protocol's default"; the defaults live in the protocol classes only.
    """

    data: str | None = field(
        default=None, metadata=option("local file/folder or Hub id overriding the benchmark's default source")
    )
    split: str | None = field(default=None, metadata=option("dataset split (default: the benchmark's)"))
    mode: PairMode | None = field(
        default=None,
        metadata=option("rewardbench: A/B in both orders (pairwise, default) or each response graded alone", choices=MODES),
    )
    rubric: str | None = field(
        default=None,
        metadata=option("rubric name or .yaml/.json file for every item (rewardbench default 'auto' = per section)"),
    )
    reference: bool = field(
        default=True, metadata=option("leave the reference answer out of the prompts", negate="--no-reference")
    )
    subsets: tuple[str, ...] | None = field(default=None, metadata=option("rewardbench: keep only these subsets"))
    sections: tuple[str, ...] | None = field(default=None, metadata=option("rewardbench: keep only these sections"))
    include_multilingual: bool = field(default=False, metadata=option("biggen: keep the multilingual capability"))
    skip_llm_judge_tasks: bool = field(default=False, metadata=option("biggen: drop the 18 llm_judge_* instances"))
    require_consistent: bool = field(
        default=True,
        metadata=option("rewardbench pairwise: average the two orders instead of requiring agreement", negate="--allow-inconsistent"),
    )
    limit: int | None = field(default=None, metadata=option("evaluate only the first N items"))

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer, got {self.limit!r}")
        for name in ("subsets", "sections"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, tuple(v.strip() for v in value.split(",") if v.strip()) or None)
            elif value is not None:
                object.__setattr__(self, name, tuple(str(v) for v in value) or None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "options") -> BenchmarkOptions:
        """From a plain mapping (lm-eval metadata, Inspect ``-T`` args); unknown keys are ignored
        by the caller, wrong types raise ``ValueError`` naming the option."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known or value is None or value == "":
                continue
            if name in ("reference", "include_multilingual", "skip_llm_judge_tasks", "require_consistent"):
                kwargs[name] = parse_flag(value, f"{where}: {name}")
            elif name == "limit":
                kwargs[name] = int(value)
            elif name in ("subsets", "sections"):
                kwargs[name] = parse_names(value)
            else:
                kwargs[name] = str(value)
        return cls(**kwargs)


def parse_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def parse_names(value: Any) -> tuple[str, ...] | None:
    """``a,b``, ``["a", "b"]`` or a JSON list string -> ``("a", "b")``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            value = json.loads(text)
        else:
            value = text.split(",")
    names = tuple(str(v).strip() for v in value if str(v).strip())
    return names or None


@dataclass(frozen=True)
class JudgeRequest:
    """One judge call of an item: its key in the item, the prompt, and how to read the answer."""

    key: str  # "score" (pointwise), "chosen"/"rejected", "chosen_first"/"chosen_second"
    prompt: JudgePrompt
    scale: tuple[int, int] = (1, 5)

    @property
    def mode(self) -> ParseMode:
        return self.prompt.mode


class Protocol(ABC):
    """One benchmark's judging protocol (see the module docstring)."""

    name: ClassVar[str]
    description: ClassVar[str]
    hub_id: ClassVar[str]
    default_split: ClassVar[str]

    def __init__(self, options: BenchmarkOptions | None = None) -> None:
        self.options = options or BenchmarkOptions()
        self.validate_options()

    # ---- data ----------------------------------------------------------------------------------

    @abstractmethod
    def validate_options(self) -> None:
        """Refuse options that mean nothing for this benchmark (before any data is read)."""

    @property
    def source(self) -> str:
        return self.options.data or self.hub_id

    @property
    def split(self) -> str:
        return self.options.split or self.default_split

    @abstractmethod
    def load(self) -> Loaded[Any]:
        """The benchmark's items after the protocol's filters and ``limit``."""

    # ---- requests and decisions ----------------------------------------------------------------

    @abstractmethod
    def requests(self, item: Any) -> list[JudgeRequest]:
        """The judge calls of one item, in a fixed order."""

    @abstractmethod
    def item_result(self, item: Any, decisions: Mapping[str, Decision], strategy: StrategyConfig) -> ItemResult:
        """The outcome of one item from the decisions of its requests (keyed like the requests)."""

    # ---- metrics -------------------------------------------------------------------------------

    @abstractmethod
    def metrics(self, results: Sequence[ItemResult]) -> dict[str, float]:
        """Every metric of the benchmark, by name (the same names in every front end)."""

    @abstractmethod
    def labels(self, item: Any) -> str:
        """The group label of an item that per-group metrics use ("" when none)."""

    @abstractmethod
    def metric_names(self, labels: Iterable[str], strategy: StrategyConfig) -> list[str]:
        """Names :meth:`metrics` returns for items with these group labels, in report order."""

    def confidence_intervals(
        self, results: Sequence[ItemResult], *, n_resamples: int, seed: int
    ) -> dict[str, list[float]]:
        """Bootstrap 95% CIs of the headline metrics (empty when ``n_resamples`` is 0)."""
        return {}

    primary_metric: ClassVar[str]


def draw_counts(decisions: Iterable[Decision]) -> dict[str, int]:
    """Sample-level counts shared by every item result."""
    ds = list(decisions)
    return {
        "n_draws": sum(d.n_draws for d in ds),
        "n_failed_draws": sum(d.n_failed for d in ds),
        "n_bon_fallback": sum(d.selected_by == "majority (no logprobs)" for d in ds),
        "n_forced": sum(bool(d.forced) for d in ds),
    }


def sample_metrics(results: Sequence[ItemResult]) -> dict[str, float]:
    """Counts over the draws behind the items (identical in every front end)."""
    n = sum(int(r.get("n_draws", 0)) for r in results)
    failed = sum(int(r.get("n_failed_draws", 0)) for r in results)
    return {
        "sample_parse_rate": (n - failed) / n if n else math.nan,
        "n_bon_fallback": float(sum(int(r.get("n_bon_fallback", 0)) for r in results)),
        "n_forced": float(sum(int(r.get("n_forced", 0)) for r in results)),
    }
