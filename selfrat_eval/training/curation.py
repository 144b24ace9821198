"""Preference pairs from a judge's own sampled judgments.

Strategies (label = the score a good judgment should land on):
- ``gold``: label = the gold score; chosen = a judgment scoring the label, rejected = one missing it
  by at least ``min_gap``.
- ``majority``: label = the majority score of the valid samples (no gold needed; noisier).
- ``meta-judge``: each judgment is rated by the model itself; chosen = the highest-rated judgment,
  rejected = a lower-rated one whose score differs from the chosen one's by at least ``min_gap``.
Failed judgments (unparsable) are never used. Every random choice uses a seeded RNG per input, so
the same samples and seed give the same pairs. ``balance`` limits how many pairs one label score
may have (a judge trained on mostly-5 pairs learns to say 5): ``cap`` cuts every label to a cap
(default: the mean count per label present) and keeps the rarer labels whole, ``min`` cuts every
label down to the rarest one's count (which can throw most pairs away), ``none`` keeps all.
``consistency`` (a check of :mod:`.consistency`) keeps a chosen judgment only if its stated score
follows from its own rationale; ``rejected_preference: inconsistent`` then rejects the judgments
that fail the check first, so a pair contrasts following one's own evidence with contradicting it.
``balance_contrasts`` (a function of :mod:`.contrasts`) finally drops pairs, greedily, until no
single drop evens the verdict kinds' pushes further (which can undo some of the label balance).
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..aggregation import majority_vote
from ..formats import format_judgment
from .config import CurationConfig
from .consistency import Check, consistency_check, passes
from .contrasts import balance_contrasts, contrast_function, imbalance, lean

log = logging.getLogger(__name__)


def _valid(samples: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    return [(i, s) for i, s in enumerate(samples) if s.get("score") is not None and s.get("rationale") is not None]


def judgment_text(sample: Mapping[str, Any]) -> str:
    """The training text of a sample: its rationale and score in the canonical layout (anything the
    model wrote after the score is dropped)."""
    return format_judgment(str(sample["rationale"]), int(sample["score"]))


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(f"{seed}:{key}")


def _pairs_for_label(
    valid: list[tuple[int, Mapping[str, Any]]],
    label: int,
    min_gap: int,
    k: int,
    rng: random.Random,
    inconsistent: frozenset[int] = frozenset(),
    prefer_rejected: frozenset[int] = frozenset(),
) -> list[tuple[int, int]]:
    chosen = [i for i, s in valid if int(s["score"]) == label and i not in inconsistent]
    rejected = [i for i, s in valid if abs(int(s["score"]) - label) >= min_gap]
    return _pick(chosen, rejected, k, rng, valid, prefer_rejected)


def _inconsistent(valid: list[tuple[int, Mapping[str, Any]]], check: Check | None) -> frozenset[int]:
    """Indices of the valid samples whose score or verdicts contradict their own rationale (none
    without a check); each sample is checked once per input."""
    return frozenset(i for i, s in valid if not passes(check, s))


def _pick(
    chosen: list[int],
    rejected: list[int],
    k: int,
    rng: random.Random,
    valid: list[tuple[int, Mapping[str, Any]]],
    prefer_rejected: frozenset[int] = frozenset(),
) -> list[tuple[int, int]]:
    """Up to ``k`` (chosen, rejected) index pairs: rejected samples in ``prefer_rejected`` first, then
    samples not used yet; distinct texts only."""
    if not chosen or not rejected:
        return []
    texts = {i: judgment_text(s) for i, s in valid}
    combos = [(c, r) for c in chosen for r in rejected if texts[c] != texts[r]]
    rng.shuffle(combos)
    out: list[tuple[int, int]] = []
    seen_text_pairs: set[tuple[str, str]] = set()
    used: Counter[int] = Counter()
    # Prefer pairs whose samples have been used least: more distinct judgments per input.
    while combos and len(out) < k:
        combos.sort(key=lambda p: (p[1] not in prefer_rejected, used[p[0]] + used[p[1]]))
        c, r = combos.pop(0)
        tp = (texts[c], texts[r])
        if tp in seen_text_pairs:
            continue
        seen_text_pairs.add(tp)
        used[c] += 1
        used[r] += 1
        out.append((c, r))
    return out


def curate(
    records: Sequence[Mapping[str, Any]],
    cfg: CurationConfig,
    *,
    seed: int,
    meta_ratings: Mapping[str, Sequence[float | None]] | None = None,
    references: Mapping[str, str | None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Build preference pairs from sample records (lines of ``samples.jsonl``).

    A record has ``key``, ``prompt`` (chat messages), ``gold`` (for ``gold``) and ``samples`` with
    ``score``/``rationale`` (None when the judgment failed). ``meta_ratings[key][i]`` is the mean
    self-rating of sample ``i`` (``meta-judge`` only). ``references[key]`` is the input's reference
    rationale, read only by contrast functions that need it. Returns (pairs, stats).
    """
    if cfg.strategy == "meta-judge" and meta_ratings is None:
        raise ValueError("curation.strategy=meta-judge needs meta ratings")
    check = consistency_check(cfg.consistency)
    contrast = contrast_function(cfg.balance_contrasts)
    if cfg.rejected_preference == "inconsistent" and check is None:
        raise ValueError("curation.rejected_preference=inconsistent needs curation.consistency (the check that decides)")
    pairs: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    n_samples = n_valid = n_on_label_inconsistent = 0
    for rec in records:
        key = str(rec["key"])
        samples = rec["samples"]
        valid = _valid(samples)
        n_samples += len(samples)
        n_valid += len(valid)
        rng = _rng(seed, key)
        if len(valid) < 2:
            reasons["too_few_valid"] += 1
            continue
        inconsistent = _inconsistent(valid, check)
        prefer = inconsistent if cfg.rejected_preference == "inconsistent" else frozenset()
        if cfg.strategy == "gold":
            if rec.get("gold") is None:
                raise ValueError(f"samples record {key}: strategy 'gold' needs a gold score")
            label = int(rec["gold"])
            picked = _pairs_for_label(valid, label, cfg.min_gap, cfg.pairs_per_input, rng, inconsistent, prefer)
        elif cfg.strategy == "majority":
            label = majority_vote([int(s["score"]) for _, s in valid])  # type: ignore[assignment]
            picked = _pairs_for_label(valid, label, cfg.min_gap, cfg.pairs_per_input, rng, inconsistent, prefer)
        else:
            ratings = list(meta_ratings.get(key, ())) if meta_ratings else []
            rated = [(i, s) for i, s in valid if i < len(ratings) and ratings[i] is not None]
            if len(rated) < 2:
                reasons["too_few_rated"] += 1
                continue
            best = max(ratings[i] for i, _ in rated)  # type: ignore[type-var]
            top = [i for i, _ in rated if ratings[i] == best]
            label = int(samples[top[0]]["score"])
            chosen = [i for i in top if int(samples[i]["score"]) == label and i not in inconsistent]
            rejected = [
                i
                for i, s in rated
                if ratings[i] < best and abs(int(s["score"]) - label) >= cfg.min_gap  # type: ignore[operator]
            ]
            picked = _pick(chosen, rejected, cfg.pairs_per_input, rng, valid, prefer)
        on_label = [i for i, s in valid if int(s["score"]) == label]
        n_on_label_inconsistent += sum(i in inconsistent for i in on_label)
        if not picked:
            reasons[_no_pair_reason(on_label, inconsistent)] += 1
            continue
        for c, r in picked:
            pairs.append(
                {
                    "key": key,
                    "prompt": rec["prompt"],
                    "chosen": [{"role": "assistant", "content": judgment_text(samples[c])}],
                    "rejected": [{"role": "assistant", "content": judgment_text(samples[r])}],
                    "label": label,
                    "gold": rec.get("gold"),
                    "chosen_score": int(samples[c]["score"]),
                    "rejected_score": int(samples[r]["score"]),
                    "chosen_index": c,
                    "rejected_index": r,
                    "strategy": cfg.strategy,
                    **({"rejected_consistent": r not in inconsistent} if check is not None else {}),
                    **(
                        {"contrasts": contrast(str(samples[c]["rationale"]), str(samples[r]["rationale"]),
                                               (references or {}).get(key))}
                        if contrast is not None
                        else {}
                    ),
                }
            )
    by_label_before = Counter(p["label"] for p in pairs)
    n_before = len(pairs)
    pairs = balance_by_label(pairs, seed, cfg.balance, cfg.balance_cap)
    if cfg.max_pairs is not None and len(pairs) > cfg.max_pairs:
        keep = sorted(random.Random(f"{seed}:max_pairs").sample(range(len(pairs)), cfg.max_pairs))
        pairs = [pairs[i] for i in keep]
    contrast_stats: dict[str, Any] = {}
    if contrast is not None:
        lean_before, imbalance_before, n_before_contrasts = lean(pairs), imbalance(pairs), len(pairs)
        if pairs and all(p["contrasts"] is None for p in pairs):
            # e.g. a format the function cannot read, or constraint-errors without references
            log.warning("curation.balance_contrasts=%s could read no pair's contrasts; nothing balanced", cfg.balance_contrasts)
        pairs = balance_contrasts(pairs, seed)
        contrast_stats = {
            "balance_contrasts": cfg.balance_contrasts,
            "n_pairs_before_contrast_balance": n_before_contrasts,
            "n_pairs_contrasts_unknown": sum(p["contrasts"] is None for p in pairs),
            "contrast_imbalance_before": imbalance_before,
            "contrast_imbalance": imbalance(pairs),
            "contrasts_by_kind_before_balance": lean_before,
            "contrasts_by_kind": lean(pairs),
        }
    stats = {
        "strategy": cfg.strategy,
        "n_inputs": len(records),
        "n_samples": n_samples,
        "n_valid_samples": n_valid,
        "parse_rate": (n_valid / n_samples) if n_samples else float("nan"),
        "n_inputs_with_pairs": len({p["key"] for p in pairs}),
        "n_pairs_before_balance": n_before,
        "n_pairs": len(pairs),
        "balance": cfg.balance,
        "pairs_by_label_before_balance": {str(k): v for k, v in sorted(by_label_before.items())},
        "pairs_by_label": {str(k): v for k, v in sorted(Counter(p["label"] for p in pairs).items())},
        "inputs_without_pairs": dict(sorted(reasons.items())),
        "n_inputs_without_pairs": sum(reasons.values()),
    }
    if check is not None:
        stats["consistency"] = cfg.consistency
        stats["n_on_label_samples_inconsistent"] = n_on_label_inconsistent
        stats["rejected_preference"] = cfg.rejected_preference
        stats["n_pairs_rejected_inconsistent"] = sum(not p["rejected_consistent"] for p in pairs)
    stats.update(contrast_stats)
    return pairs, stats


def _no_pair_reason(on_label: Sequence[int], inconsistent: frozenset[int]) -> str:
    if not on_label:
        return "no_chosen"
    if all(i in inconsistent for i in on_label):
        return "no_consistent_chosen"  # judgments on the label, each contradicting its own rationale
    return "no_rejected"


def label_cap(counts: Mapping[int, int], mode: str, cap: int | None = None) -> int | None:
    """Most items one label may keep: ``min`` = the rarest label's count, ``cap`` = ``cap`` or the
    mean count over the labels present (rounded up), ``none`` = no limit (None)."""
    if mode == "none" or not counts:
        return None
    if mode == "min":
        return min(counts.values())
    if mode == "cap":
        return cap if cap is not None else math.ceil(sum(counts.values()) / len(counts))
    raise ValueError(f"balance must be none, min or cap, got {mode!r}")


def balance_by_label(
    rows: list[dict[str, Any]], seed: int, mode: str = "min", cap: int | None = None, *, key: str = "label"
) -> list[dict[str, Any]]:
    """Keep at most :func:`label_cap` rows per ``row[key]`` (seeded choice), in their order."""
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(rows):
        groups.setdefault(int(p[key]), []).append(i)
    limit = label_cap({k: len(v) for k, v in groups.items()}, mode, cap)
    if limit is None:
        return list(rows)
    rng = random.Random(f"{seed}:balance")
    keep: list[int] = []
    for label in sorted(groups):
        idx = groups[label]
        keep += idx if len(idx) <= limit else rng.sample(idx, limit)
    return [rows[i] for i in sorted(keep)]


def pair_status(rec: Mapping[str, Any], cfg: CurationConfig) -> str | None:
    """Why an input yields no pair under ``gold``/``majority`` (``too_few_valid``, ``no_chosen``,
    ``no_rejected``), or None when it has one. Re-sampling uses it to pick the inputs to re-sample."""
    valid = _valid(rec["samples"])
    if len(valid) < 2:
        return "too_few_valid"
    if cfg.strategy == "gold":
        label = int(rec["gold"])
    elif cfg.strategy == "majority":
        label = majority_vote([int(s["score"]) for _, s in valid])  # type: ignore[assignment]
    else:
        raise ValueError("re-sampling needs the gold or majority strategy")
    inconsistent = _inconsistent(valid, consistency_check(cfg.consistency))
    if _pairs_for_label(valid, label, cfg.min_gap, 1, random.Random(0), inconsistent):
        return None
    return _no_pair_reason([i for i, s in valid if int(s["score"]) == label], inconsistent)
