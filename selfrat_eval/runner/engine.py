"""Generate + parse judge outputs through the cache, re-sampling unparsable ones.

Prompts are cut into fixed chunks of ``chunk_size`` in input order; chunk ``c`` samples under the
seed ``derive_seed(seed, c)``. A chunk whose prompts are all cached is not regenerated; otherwise
the whole chunk goes to the backend (same prompts, same seed, so the same samples as an
uninterrupted run) and its new generations are flushed to the cache before the next chunk starts.

Re-sampling: after the first pass, each sample that does not parse is replaced by a fresh sample,
up to ``max_retries`` rounds. Round ``t`` of chunk ``c`` uses the seed
``derive_seed(derive_seed(seed, c), RETRY_OFFSET + t)`` (different from every first-pass seed,
and deterministic); a prompt with ``f`` failures asks for ``n=f`` new samples, cached like any
other generation. Greedy runs re-sample with ``retry_sampling`` (temperature 1.0 by default),
since re-running greedy decoding would give the same text. Every re-sample is counted.

Length policy: a prompt longer than ``max_prompt_tokens`` is never sent to the backend; its
samples are empty and carry the error ``too_long`` (counted like any failed judgment). A prompt
whose character count alone rules it out is refused without tokenizing it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..generation.base import GenerationBackend, Prompt, Sample, SamplingConfig
from ..parsing import Judgment, parse_judgment
from ..seeding import derive_seed
from .cache import GenerationCache

RETRY_OFFSET = 1_000_003


TOO_LONG = "too_long"
# No tokenizer packs more than this many characters into one token, so a longer prompt is refused
# without tokenizing it (a 50 MB row must never reach the tokenizer or the model).
MAX_CHARS_PER_TOKEN = 64


@dataclass(frozen=True)
class RenderedRequest:
    """One prompt to judge (rendered for the backend) and how to read its answers."""

    prompt: Prompt
    mode: str = "absolute"  # "absolute" | "relative"
    scale: tuple[int, int] = (1, 5)


@dataclass
class JudgedPrompt:
    """The final N samples of one prompt (after re-sampling) and their parses."""

    samples: list[Sample]
    judgments: list[Judgment]
    resampled: int = 0  # re-samples drawn for this prompt
    failed_first_pass: int = 0
    history: list[str] = field(default_factory=list)  # texts that were replaced (kept for audit)
    too_long: bool = False  # refused by the length policy: never sent to the backend

    @property
    def n_failed(self) -> int:
        return sum(1 for j in self.judgments if not j.ok)


@dataclass
class EngineStats:
    chunks: int = 0
    chunks_generated: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    samples: int = 0
    failed_first_pass: int = 0
    resampled: int = 0
    failed_final: int = 0
    too_long: int = 0


def _parse(text: str, request: RenderedRequest) -> Judgment:
    return parse_judgment(text, mode=request.mode, scale=request.scale)  # type: ignore[arg-type]


class JudgeEngine:
    def __init__(
        self,
        backend: GenerationBackend,
        cache: GenerationCache,
        *,
        chunk_size: int = 16,
        max_retries: int = 0,
        retry_sampling: SamplingConfig | None = None,
        show_progress: bool = True,
        after_chunk: Callable[[int], None] | None = None,
        max_prompt_tokens: int | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.backend = backend
        self.cache = cache
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.retry_sampling = retry_sampling
        self.show_progress = show_progress
        self.after_chunk = after_chunk  # test hook: called after each chunk is flushed
        self.max_prompt_tokens = max_prompt_tokens
        self.stats = EngineStats()

    def too_long(self, prompt: Prompt) -> bool:
        """Whether ``prompt`` exceeds the length limit (never tokenizing a hopelessly long one)."""
        limit = self.max_prompt_tokens
        if limit is None:
            return False
        chars = len(prompt) if isinstance(prompt, str) else sum(len(str(m.get("content", ""))) for m in prompt)
        if chars > limit * MAX_CHARS_PER_TOKEN:
            return True
        encode = getattr(self.backend, "encode", None)
        return encode is not None and len(encode(prompt)) > limit

    def _cached_generate(
        self, prompts: Sequence[Prompt], n: int, sampling: SamplingConfig, seed: int
    ) -> list[list[Sample]]:
        if not prompts:
            return []
        keys = [self.cache.key(p, n, seed, sampling) for p in prompts]
        found = [self.cache.get(k) for k in keys]
        if all(f is not None for f in found):
            self.stats.cache_hits += len(prompts)
            return [f for f in found if f is not None]
        fresh = self.backend.generate(list(prompts), n=n, sampling=sampling, seed=seed)
        if len(fresh) != len(prompts) or any(len(g) != n for g in fresh):
            raise RuntimeError(f"backend {self.backend.name} returned a wrong number of samples")
        missing = [(k, g) for k, g, f in zip(keys, fresh, found, strict=True) if f is None]
        self.stats.cache_misses += len(missing)
        self.stats.cache_hits += len(prompts) - len(missing)
        self.cache.put_many(missing)
        # keep what is on disk for prompts that were cached already (one truth per key)
        return [f if f is not None else g for f, g in zip(found, fresh, strict=True)]

    def run(
        self, requests: Sequence[RenderedRequest], *, n: int, sampling: SamplingConfig, seed: int
    ) -> list[JudgedPrompt]:
        progress = None
        if self.show_progress:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(requests), desc="judging", unit="prompt")
        results: list[JudgedPrompt] = []
        try:
            for c, start in enumerate(range(0, len(requests), self.chunk_size)):
                chunk = list(requests[start : start + self.chunk_size])
                results.extend(self._run_chunk(chunk, n, sampling, derive_seed(seed, c)))
                self.stats.chunks += 1
                if progress is not None:
                    progress.update(len(chunk))
                if self.after_chunk is not None:
                    self.after_chunk(c)
        finally:
            if progress is not None:
                progress.close()
        return results

    def _run_chunk(
        self, chunk: list[RenderedRequest], n: int, sampling: SamplingConfig, seed: int
    ) -> list[JudgedPrompt]:
        misses_before = self.stats.cache_misses
        refused = {i for i, r in enumerate(chunk) if self.too_long(r.prompt)}
        sent = [i for i in range(len(chunk)) if i not in refused]
        generated = dict(zip(sent, self._cached_generate([chunk[i].prompt for i in sent], n, sampling, seed), strict=True))
        out = []
        for i, request in enumerate(chunk):
            if i in refused:
                samples = [Sample("", None, TOO_LONG)] * n
                judgments = [Judgment(text="", rationale="", mode=request.mode, error=TOO_LONG)] * n  # type: ignore[arg-type]
                self.stats.too_long += 1
            else:
                samples = list(generated[i])
                judgments = [_parse(s.text, request) for s in samples]
            failed = sum(1 for j in judgments if not j.ok)
            out.append(JudgedPrompt(list(samples), list(judgments), 0, failed, too_long=i in refused))
            self.stats.samples += len(samples)
            self.stats.failed_first_pass += failed
        retry_sampling = self.retry_sampling or sampling
        if sampling.greedy and self.retry_sampling is None:
            retry_sampling = replace(SamplingConfig(), max_new_tokens=sampling.max_new_tokens)
        for t in range(1, self.max_retries + 1):
            failing = [i for i, r in enumerate(out) if r.n_failed and not r.too_long]
            if not failing:
                break
            round_seed = derive_seed(seed, RETRY_OFFSET + t)
            by_count: dict[int, list[int]] = {}
            for i in failing:
                by_count.setdefault(out[i].n_failed, []).append(i)
            for count, idx in sorted(by_count.items()):
                fresh = self._cached_generate(
                    [chunk[i].prompt for i in idx], count, retry_sampling, round_seed
                )
                for i, new in zip(idx, fresh, strict=True):
                    slots = [k for k, j in enumerate(out[i].judgments) if not j.ok]
                    for slot, sample in zip(slots, new, strict=True):
                        out[i].history.append(out[i].samples[slot].text)
                        out[i].samples[slot] = sample
                        out[i].judgments[slot] = _parse(sample.text, chunk[i])
                    out[i].resampled += len(new)
                    self.stats.resampled += len(new)
        self.stats.failed_final += sum(r.n_failed for r in out)
        if self.stats.cache_misses > misses_before:
            self.stats.chunks_generated += 1
        return out
