"""Verdict-contrast balancing of preference pairs (``curation.balance_contrasts``).

A pair tells DPO to raise everything the chosen judgment says and lower what the rejected one says.
Where the two differ in a verdict of one kind (a format-specific notion, e.g. "exclude" on the
demo's constraint tasks) and one direction dominates that kind over the pair set ("violated" chosen
over "met" much more often than the reverse), the pairs can be fit by moving the kind's verdict
prior instead of reading the evidence. A contrast function names, per pair, the verdicts it
pushes as ``"<kind>:<verdict raised>"``; balancing then drops pairs, greedily, until no single drop
evens the kinds' directions further. Functions are imported lazily by name, like consistency checks.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .named import resolve

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
    return resolve(CONTRAST_FUNCTIONS, name, "contrast function")


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
    most (seeded choice among equal drops), until no single drop lowers it; the rest keep their
    order. Greedy: it can stop above the best subset, and a kind pushed one way only loses all its
    pairs. Squares make a drop that evens a large gap worth a unit more gap elsewhere, so one pair
    contrasting two kinds does not pin a lopsided kind. Pairs with no contrast (or an unknown one,
    ``contrasts: None``) never move the balance and are kept."""
    rng = random.Random(f"{seed}:balance_contrasts")
    signature = {
        i: tuple(sorted(Counter(_split(c) for c in p["contrasts"]).items()))
        for i, p in enumerate(pairs)
        if p.get("contrasts")
    }
    # pairs with the same pushes gain the same from a drop: score each signature once
    groups: dict[tuple[tuple[tuple[str, str], int], ...], list[int]] = {}
    for i, push in signature.items():
        groups.setdefault(push, []).append(i)
    totals = {kind: Counter(counts) for kind, counts in lean(pairs).items()}
    directions = {kind: sorted(c) for kind, c in totals.items()}

    def cost(kind: str, counts: Counter[str]) -> int:
        return _gap([counts[d] for d in directions[kind]]) ** 2

    def gain(push: tuple[tuple[tuple[str, str], int], ...]) -> int:
        out = 0
        for kind in {k for (k, _), _ in push}:
            after = Counter(totals[kind])
            after.subtract({d: n for (k, d), n in push if k == kind})
            out += cost(kind, totals[kind]) - cost(kind, after)
        return out

    dropped: set[int] = set()
    while True:
        gains = {push: gain(push) for push, members in groups.items() if members}
        best_gain = max(gains.values(), default=0)
        if best_gain <= 0:
            break
        candidates = sorted(i for push, g in gains.items() if g == best_gain for i in groups[push])
        drop = rng.choice(candidates)
        push = signature[drop]
        groups[push].remove(drop)
        dropped.add(drop)
        for (kind, direction), n in push:
            totals[kind][direction] -= n
    return [p for i, p in enumerate(pairs) if i not in dropped]
