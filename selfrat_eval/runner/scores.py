"""Expected-score judging's second pass: the verdict distribution at each judgment's scoring point.

For every request's (first) judgment the scoring prefix is computed by the protocol
(:func:`selfrat_eval.protocols.expected.scoring_prefix`: up to the last ``[RESULT]``, or the
text with the marker appended = forced), and the backend returns the top next tokens there
(``next_token_logprobs``). Results are cached like generations (keyed by model, prompt and
prefix), so a resumed run recomputes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..generation.base import GREEDY, GenerationBackend, Sample
from ..generation.errors import BackendError
from ..protocols.expected import TOP_K, chain_verdicts, scoring_prefix, whitespace_step
from ..protocols.strategy import verdict_levels
from .cache import GenerationCache
from .engine import JudgedPrompt, RenderedRequest

SCORE_POINT = "score_logprobs"


def _key(cache: GenerationCache, prompt: object, prefix: str) -> str:
    payload = json.dumps({SCORE_POINT: prompt, "prefix": prefix, "k": TOP_K}, sort_keys=True, ensure_ascii=False)
    return cache.key(payload, 0, 0, GREEDY)


def add_score_logprobs(
    backend: GenerationBackend,
    cache: GenerationCache,
    requests: Sequence[RenderedRequest],
    judged: Sequence[JudgedPrompt],
    *,
    show_progress: bool = False,
) -> tuple[list[list[dict[str, float] | None]], list[list[bool]]]:
    """Per request and draw: the verdict log-probs at the scoring point (None when the prompt was
    never sent) and whether the marker was forced. Two batched rounds: the scoring point, then --
    for the requests whose top tokens include a whitespace token -- the point after it."""
    fn = getattr(backend, "next_token_logprobs", None)
    if fn is None:
        raise BackendError(
            f"expected-score judging needs next-token log-probs; the {getattr(backend, 'name', '?')} backend has none"
        )
    scores: list[list[dict[str, float] | None]] = [[None] * len(jp.samples) for jp in judged]
    forced: list[list[bool]] = [[False] * len(jp.samples) for jp in judged]
    prefixes: dict[int, str] = {}
    for i, jp in enumerate(judged):
        if not jp.too_long:
            prefixes[i], forced[i][0] = scoring_prefix(jp.samples[0].text)
    first = _tops(fn, cache, requests, prefixes)
    steps = {i: step for i in prefixes if (step := whitespace_step(first[i])) is not None}
    second = _tops(fn, cache, requests, {i: prefixes[i] + steps[i][0] for i in steps})
    for i in prefixes:
        levels = verdict_levels(requests[i].mode, requests[i].scale)  # type: ignore[arg-type]
        scores[i][0] = chain_verdicts(first[i], levels, steps.get(i), second.get(i))
    return scores, forced


def _tops(fn: Callable[..., list[dict[str, float]]], cache: GenerationCache, requests: Sequence[RenderedRequest], prefixes: dict[int, str]) -> dict[int, dict[str, float]]:
    """Top next tokens after each request's prompt + prefix, from the cache or one batched call."""
    out: dict[int, dict[str, float]] = {}
    todo: list[tuple[int, str]] = []
    for i, prefix in prefixes.items():
        key = _key(cache, requests[i].prompt, prefix)
        hit = cache.get(key)
        if hit is not None:
            out[i] = json.loads(hit[0].text)
        else:
            todo.append((i, key))
    if todo:
        tops = fn([requests[i].prompt for i, _ in todo], [prefixes[i] for i, _ in todo], k=TOP_K)
        cache.put_many([(key, [Sample(json.dumps(top), None, SCORE_POINT)]) for (_, key), top in zip(todo, tops, strict=True)])
        out.update({i: top for (i, _), top in zip(todo, tops, strict=True)})
    return out
