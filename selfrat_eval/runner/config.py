"""Settings of one ``selfrat evaluate`` run (stored verbatim in the results JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..generation.base import SamplingConfig

BENCHMARKS = ("rewardbench", "biggen", "feedback_bench", "custom")
STRATEGIES = ("greedy", "self-consistency", "best-of-n")
MODES = ("pointwise", "pairwise")
PROMPT_FORMATS = ("auto", "chat", "text")


@dataclass
class RunConfig:
    judge: str
    benchmark: str
    out: str
    data: str | None = None  # local file/dir or Hub id; overrides the benchmark's Hub id
    split: str | None = None
    rubric: str | None = None  # name or file; RewardBench default "auto" = one rubric per section
    mode: str = "pointwise"  # RewardBench: grade each response (pointwise) or A/B in both orders
    require_consistent: bool = True  # pairwise: a win needs both orders to agree
    strategy: str = "greedy"
    n: int = 1
    sc_method: str = "majority"  # self-consistency: majority | mean | median
    select_by: str = "logprob"  # best-of-n: logprob | scorer | majority
    scorer: str | None = None  # best-of-n by scorer: "module:function" taking a Judgment
    backend: str = "hf"
    adapter: str | None = None
    gguf_file: str | None = None
    base_url: str | None = None
    tensor_parallel_size: int = 1
    dtype: str | None = None
    device: str | None = None
    batch_size: int = 16
    prompt_format: str = "auto"
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    seed: int = 0
    limit: int | None = None
    subsets: list[str] | None = None
    sections: list[str] | None = None
    max_retries: int = 0  # re-sampling rounds for unparsable outputs (the reference library uses 10)
    chunk_size: int = 32  # prompts per cached batch (resume granularity)
    cache_dir: str | None = None  # None: $SELFRAT_CACHE or ~/.cache/selfrat-eval/generations
    no_cache: bool = False
    bootstrap: int = 1000
    report: bool = True
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {self.benchmark!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "pairwise" and self.benchmark != "rewardbench":
            raise ValueError("--mode pairwise needs pairs: only the rewardbench benchmark has them")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be one of {PROMPT_FORMATS}")
        if self.strategy == "greedy":
            self.n = 1
            if not self.sampling.greedy:
                self.sampling = SamplingConfig(
                    temperature=0.0,
                    top_p=1.0,
                    max_new_tokens=self.sampling.max_new_tokens,
                    repetition_penalty=1.0,
                )
        elif self.n < 2:
            raise ValueError(f"strategy {self.strategy} needs --n >= 2")
        elif self.sampling.greedy:
            raise ValueError(f"strategy {self.strategy} samples: use a temperature > 0")
        if self.sc_method not in ("majority", "mean", "median"):
            raise ValueError("sc_method must be majority, mean or median")
        if self.select_by not in ("logprob", "scorer", "majority"):
            raise ValueError("select_by must be logprob, scorer or majority")
        if self.select_by == "scorer" and self.strategy == "best-of-n" and not self.scorer:
            raise ValueError("best-of-n by scorer needs --scorer module:function")
        if self.benchmark == "custom" and not self.data:
            raise ValueError("the custom benchmark needs --data FILE")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        data["sampling"] = SamplingConfig(**data.get("sampling", {}))
        return cls(**data)
