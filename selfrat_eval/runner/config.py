"""Settings of one ``selfrat evaluate`` run (stored verbatim in the results JSON).

The command-line options are generated from these dataclasses (``selfrat_eval.config_cli``), so a
default is written once: here, or in the protocol/strategy/backend config it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config_cli import from_plain, option, to_plain
from ..generation.base import SamplingConfig
from ..generation.factory import BackendConfig
from ..protocols import (
    BENCHMARKS,
    DEFAULT_MAX_NEW_TOKENS,
    BenchmarkOptions,
    Protocol,
    StrategyConfig,
    get_protocol,
)

PROMPT_FORMATS = ("auto", "chat", "text")


@dataclass
class RunConfig:
    judge: str = field(
        metadata=option("model folder, Hub id, .gguf file, or served model name (openai backend)", required=True)
    )
    benchmark: str = field(metadata=option("benchmark protocol", choices=BENCHMARKS, required=True))
    out: str = field(metadata=option("run folder for results.json and report.html", required=True))
    options: BenchmarkOptions = field(default_factory=BenchmarkOptions, metadata=option("data and grading"))
    strategy: StrategyConfig = field(default_factory=StrategyConfig, metadata=option("strategy"))
    backend: BackendConfig = field(default_factory=BackendConfig, metadata=option("backend"))
    scorer: str | None = field(
        default=None, metadata=option("best-of-n by scorer: 'module:function' taking a Judgment, returning a float")
    )
    prompt_format: str = field(
        default="auto", metadata=option("chat messages or plain text (auto: chat when the model has a template)", choices=PROMPT_FORMATS)
    )
    temperature: float | None = field(
        default=None, metadata=option("sampling temperature (default: 0 for greedy/expected-score, 1.0 when sampling)")
    )
    top_p: float | None = field(default=None, metadata=option("nucleus sampling (default: 0.9 when sampling)"))
    max_new_tokens: int = field(default=DEFAULT_MAX_NEW_TOKENS, metadata=option("tokens per judgment"))
    repetition_penalty: float = field(default=1.0, metadata=option("repetition penalty when sampling (reference library: 1.03)"))
    max_prompt_tokens: int | None = field(
        default=None,
        metadata=option(
            "prompts longer than this are not sent and count as 'too_long' failures "
            "(default: the model's context minus --max-new-tokens, when the backend knows it)"
        ),
    )
    seed: int = field(default=0, metadata=option("seed of every sampling step"))
    max_retries: int = field(
        default=0, metadata=option("re-sampling rounds for unparsable outputs (reference library: 10)")
    )
    chunk_size: int = field(default=32, metadata=option("prompts per cached batch (resume granularity)"))
    cache_dir: str | None = field(
        default=None, metadata=option("generation cache (default $SELFRAT_CACHE or ~/.cache/selfrat-eval/generations)")
    )
    no_cache: bool = field(default=False, metadata=option("do not read or write the generation cache"))
    bootstrap: int = field(default=1000, metadata=option("bootstrap resamples for 95%% CIs (0 = none)"))
    report: bool = field(default=True, metadata=option("skip report.html", negate="--no-report"))
    show_progress: bool = field(default=True, metadata=option("no progress bar", negate="--no-progress"))

    def __post_init__(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}; got {self.prompt_format!r}")
        for name in ("max_retries", "bootstrap"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk-size must be >= 1, got {self.chunk_size}")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError(f"max-prompt-tokens must be >= 1, got {self.max_prompt_tokens}")
        if self.strategy.name == "best-of-n" and self.strategy.select_by == "scorer" and not self.scorer:
            raise ValueError("best-of-n by scorer needs --scorer module:function")
        self.protocol()  # unknown benchmark or options that mean nothing for it fail here
        self.sampling  # noqa: B018 - invalid sampling settings fail here, before any model loads

    def protocol(self) -> Protocol:
        return get_protocol(self.benchmark, self.options)

    @property
    def sampling(self) -> SamplingConfig:
        return self.strategy.sampling(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
        )

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return from_plain(cls, data)
