"""Backend-neutral types of the generation interface."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# A prompt is either a plain string (sent as is) or chat messages (the backend applies the
# model's chat template with a generation prompt).
Prompt = str | Sequence[dict[str, str]]


@dataclass(frozen=True)
class SamplingConfig:
    """Sampling settings; the defaults are the Prometheus reference library's."""

    temperature: float = 1.0
    top_p: float = 0.9
    max_new_tokens: int = 1024
    repetition_penalty: float = 1.03

    def __post_init__(self) -> None:
        # Checked once here, so every front end and backend rejects a bad value naming the option
        # (backends would otherwise fail deep inside generation, or silently clamp it).
        for name in ("temperature", "top_p", "repetition_penalty"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not self.temperature >= 0:  # also rejects NaN
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        tokens = self.max_new_tokens
        if not isinstance(tokens, numbers.Integral) or isinstance(tokens, bool) or tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {tokens!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


DEFAULT_SAMPLING = SamplingConfig()  # frozen: safe as a shared default
GREEDY = SamplingConfig(temperature=0.0, top_p=1.0, repetition_penalty=1.0)


@dataclass(frozen=True)
class Sample:
    """One generated continuation with the log-probabilities of its tokens (when available)."""

    text: str
    token_logprobs: tuple[float, ...] | None = None
    finish_reason: str | None = None  # "stop", "length", ...

    @property
    def n_tokens(self) -> int | None:
        return None if self.token_logprobs is None else len(self.token_logprobs)

    @property
    def mean_logprob(self) -> float:
        """Mean token log-probability, the best-of-N selection key; NaN when unknown/empty."""
        if not self.token_logprobs:
            return float("nan")
        return sum(self.token_logprobs) / len(self.token_logprobs)


@runtime_checkable
class GenerationBackend(Protocol):
    """``generate`` returns, for each prompt in order, exactly ``n`` samples.

    The same (model, prompts, n, sampling, seed) must give the same samples on the same backend.
    """

    name: str

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        sampling: SamplingConfig = SamplingConfig(),
        seed: int = 0,
    ) -> list[list[Sample]]: ...


def check_sample_count(n: int) -> None:
    """Every backend rejects the same bad ``n`` with the same message."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
