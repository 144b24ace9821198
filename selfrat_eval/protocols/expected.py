"""Where expected-score judging reads the judge's verdict distribution, and how token
probabilities become verdict probabilities (shared by every front end and backend).

The scoring point of a judgment is right after its LAST ``[RESULT]`` marker (the marker that
decides the verdict). A judgment without a marker is *forced*: the marker is appended to the text
(`` [RESULT]``) and the distribution of the next token is read there. A backend returns the top-k
next tokens with their log-probs; tokens that spell a verdict once whitespace, brackets and width
differences are removed (``" 4"``, ``"4"``, ``"(4"``, ``"４"``) add up to that verdict.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence

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
