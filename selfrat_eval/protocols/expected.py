"""Where expected-score judging reads the judge's verdict distribution, and how token
probabilities become verdict probabilities (shared by every front end and backend).

The scoring point of a judgment is right after its LAST ``[RESULT]`` marker (the marker that
decides the verdict). A judgment without a marker is *forced*: the marker is appended to the text
(`` [RESULT]``) and the distribution of the next token is read there. A backend returns the top-k
next tokens with their log-probs; tokens that spell a verdict once whitespace, brackets and width
differences are removed (``" 4"``, ``"4"``, ``"(4"``, ``"４"``) add up to that verdict.

Tokenizers differ in where the space before the verdict goes: BPE vocabularies with ``" 4"`` put the
verdict in the first token after the marker, others (SmolLM2, Llama 3 digits) emit ``" "`` and then
``"4"``. So when a whitespace-only token is among the top next tokens, the distribution is read a
second time after it, and the verdict probability is the sum of both paths (chain rule):
P(v) = P(" v") + P(" ") * P("v" | " "). Every front end reads it this way (:func:`read_verdicts`).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from ..parsing import last_marker_end

FORCED_MARKER = " [RESULT]"
TOP_K = 20  # top log-probs asked for at the scoring point (the OpenAI API's maximum)
_STRIP = " \t\n\r\u00a0([{*_:"


def scoring_prefix(text: str) -> tuple[str, bool]:
    """(judgment text up to and including its last marker, forced?)."""
    end = last_marker_end(text)
    if end is not None:
        return text[:end], False
    return text.rstrip() + FORCED_MARKER, True


def token_verdict(token: str) -> str:
    """The verdict a next token spells (``" 4"`` -> ``"4"``, ``"(B"`` -> ``"B"``), "" if none."""
    return unicodedata.normalize("NFKC", token).strip(_STRIP).upper()


def verdict_logprobs(top: Mapping[str, float], levels: Sequence[str]) -> dict[str, float]:
    """Log-probs of the verdicts in ``levels`` from a top-k next-token distribution (tokens that
    spell the same verdict are summed; verdicts absent from the top-k are left out)."""
    wanted = set(levels)
    sums: dict[str, float] = {}
    for token, lp in top.items():
        verdict = token_verdict(token)
        if verdict in wanted and lp is not None and not math.isnan(lp):
            sums[verdict] = sums.get(verdict, 0.0) + math.exp(lp)
    return {v: math.log(p) for v, p in sums.items() if p > 0.0}


def whitespace_step(top: Mapping[str, float]) -> tuple[str, float] | None:
    """The most probable whitespace-only next token (text, log-prob), if the top-k has one."""
    spaces = [(t, lp) for t, lp in top.items() if t and not t.strip() and lp is not None and not math.isnan(lp)]
    return max(spaces, key=lambda x: x[1]) if spaces else None


def chain_verdicts(
    first: Mapping[str, float],
    levels: Sequence[str],
    step: tuple[str, float] | None = None,
    second: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Verdict log-probs from the distribution at the scoring point (``first``) plus, when the
    model may emit a whitespace token first, the distribution after it (``second``)."""
    direct = verdict_logprobs(first, levels)
    if step is None or second is None:
        return direct
    via = verdict_logprobs(second, levels)
    out: dict[str, float] = {}
    for level in levels:
        paths = [direct[level]] if level in direct else []
        if level in via:
            paths.append(step[1] + via[level])
        if paths:
            top = max(paths)
            out[level] = top + math.log(sum(math.exp(p - top) for p in paths))
    return out


def read_verdicts(fetch: Callable[[str], Mapping[str, float] | None], prefix: str, levels: Sequence[str]) -> dict[str, float] | None:
    """Verdict log-probs at ``prefix``, where ``fetch(prefix)`` returns the top next tokens there
    (None when the backend cannot); one extra fetch when a whitespace token may come first."""
    first = fetch(prefix)
    if first is None:
        return None
    step = whitespace_step(first)
    second = fetch(prefix + step[0]) if step is not None else None
    return chain_verdicts(first, levels, step, second)
