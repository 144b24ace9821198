"""Expected-score judging's second pass: the verdict distribution at each judgment's scoring point.

For every request's (first) judgment the scoring prefix is computed by the protocol
(:func:`selfrat_eval.protocols.expected.scoring_prefix`: up to the last ``[RESULT]``, or the
text with the marker appended = forced), and the backend returns the top next tokens there
(``next_token_logprobs``). Results are cached like generations (keyed by model, prompt and
prefix), so a resumed run recomputes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..generation.base import GREEDY, GenerationBackend, Sample
from ..generation.errors import BackendError
from ..protocols.expected import TOP_K, scoring_prefix, verdict_logprobs
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
    never sent) and whether the marker was forced."""
    fn = getattr(backend, "next_token_logprobs", None)
    if fn is None:
        raise BackendError(
            f"expected-score judging needs next-token log-probs; the {getattr(backend, 'name', '?')} backend has none"
        )
    todo: list[tuple[int, str, str]] = []  # (request index, cache key, prefix)
    scores: list[list[dict[str, float] | None]] = [[None] * len(jp.samples) for jp in judged]
    forced: list[list[bool]] = [[False] * len(jp.samples) for jp in judged]
    for i, (req, jp) in enumerate(zip(requests, judged, strict=True)):
        if jp.too_long:
            continue
        prefix, was_forced = scoring_prefix(jp.samples[0].text)
        forced[i][0] = was_forced
        key = _key(cache, req.prompt, prefix)
        hit = cache.get(key)
        if hit is not None:
            scores[i][0] = verdict_logprobs(json.loads(hit[0].text), verdict_levels(req.mode, req.scale))  # type: ignore[arg-type]
        else:
            todo.append((i, key, prefix))
    if todo:
        tops = fn([requests[i].prompt for i, _, _ in todo], [p for _, _, p in todo], k=TOP_K)
        cache.put_many([(key, [Sample(json.dumps(top), None, SCORE_POINT)]) for (_, key, _), top in zip(todo, tops, strict=True)])
        for (i, _, _), top in zip(todo, tops, strict=True):
            scores[i][0] = verdict_logprobs(top, verdict_levels(requests[i].mode, requests[i].scale))  # type: ignore[arg-type]
    return scores, forced
