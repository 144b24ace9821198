"""Verdict-contrast balancing of preference pairs (``curation.balance_contrasts``).

A pair tells DPO to raise everything the chosen judgment says and lower what the rejected one says.
Where the two differ in a verdict of one kind (a format-specific notion, e.g. "exclude" on the
demo's constraint tasks) and one direction dominates that kind over the pair set ("violated" chosen
over "met" much more often than the reverse), the pairs can be fit by moving the kind's verdict
prior instead of reading the evidence. A contrast function names, per pair, the verdicts it
pushes as ``"<kind>:<verdict raised>"``; balancing then drops pairs until each kind's directions
are as even as dropping can make them. Functions are imported lazily by name, like consistency checks.
"""

from __future__ import annotations

import importlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

ContrastFn = Callable[[str, str, "str | None"], "list[str] | None"]

# name -> "module:function" taking (chosen rationale, rejected rationale, the item's reference
# rationale or None)
CONTRAST_FUNCTIONS: dict[str, str] = {
    # the verdicts the pair's two judgments disagree on, by the chosen one's verdict
    "constraint-verdicts": "selfrat_eval.demo.data:verdict_contrasts",
    # the rejected judgment's wrong verdicts against the reference, by the right verdict
    "constraint-errors": "selfrat_eval.demo.data:rejected_verdict_errors",
}


def contrast_function(name: str | None) -> ContrastFn | None:
    """The contrast function called ``name`` (None: none)."""
    if name is None:
        return None
    if name not in CONTRAST_FUNCTIONS:
        raise ValueError(f"unknown contrast function {name!r}; known: {sorted(CONTRAST_FUNCTIONS)}")
    module, _, attr = CONTRAST_FUNCTIONS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _split(contrast: str) -> tuple[str, str]:
    kind, _, direction = contrast.rpartition(":")
    return kind, direction


def lean(pairs: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per kind, how many contrasts each direction has over ``pairs`` (their ``contrasts`` lists)."""
    out: dict[str, Counter[str]] = {}
    for pair in pairs:
        for contrast in pair.get("contrasts") or ():
            kind, direction = _split(contrast)
            out.setdefault(kind, Counter())[direction] += 1
    return {kind: dict(sorted(c.items())) for kind, c in sorted(out.items())}


def imbalance(pairs: Sequence[dict[str, Any]]) -> int:
    """Sum over kinds of how far the commonest direction outnumbers the rarest (0 = even)."""
    return sum(_gap(list(counts.values())) for counts in lean(pairs).values())


def _gap(counts: list[int]) -> int:
    # a kind seen in one direction only counts its whole total (the other direction is 0)
    counts = counts + [0] * (2 - len(counts))
    return max(counts) - min(counts)


def balance_contrasts(pairs: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Drop pairs, one at a time, choosing the drop that lowers the sum of squared per-kind gaps
    most (seeded choice among equal drops), until no drop lowers it; the rest keep their order.
    Squares make a drop that evens a large gap worth a unit more gap elsewhere, so one pair
    contrasting two kinds does not pin a lopsided kind. Pairs with no contrast (or an unknown one,
    ``contrasts: None``) never move the balance and are kept."""
    rng = random.Random(f"{seed}:balance_contrasts")
    pushes = {i: Counter(_split(c) for c in p["contrasts"]) for i, p in enumerate(pairs) if p.get("contrasts")}
    totals: dict[str, Counter[str]] = {}
    for push in pushes.values():
        for (kind, direction), n in push.items():
            totals.setdefault(kind, Counter())[direction] += n
    directions = {kind: sorted(c) for kind, c in totals.items()}

    def cost(kind: str, counts: Counter[str]) -> int:
        return _gap([counts[d] for d in directions[kind]]) ** 2

    while pushes:
        best_gain, best = 0, []
        for i, push in pushes.items():
            gain = 0
            for kind in {k for k, _ in push}:
                after = Counter(totals[kind])
                after.subtract({d: n for (k, d), n in push.items() if k == kind})
                gain += cost(kind, totals[kind]) - cost(kind, after)
            if gain > best_gain:
                best_gain, best = gain, [i]
            elif gain == best_gain and gain > 0:
                best.append(i)
        if not best:
            break
        for (kind, direction), n in pushes.pop(rng.choice(best)).items():
            totals[kind][direction] -= n
    dropped = {i for i, p in enumerate(pairs) if p.get("contrasts")} - set(pushes)
    return [p for i, p in enumerate(pairs) if i not in dropped]
