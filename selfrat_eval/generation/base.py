"""Backend-neutral types of the generation interface."""

from __future__ import annotations

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
