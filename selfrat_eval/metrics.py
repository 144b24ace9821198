"""Judge metrics: agreement with gold scores and RewardBench accuracy, shared by every front end.

Predictions are ``float | None``; ``None`` is a failed judgment (unparsable). Failures are always
counted (``n_failed``, ``parse_rate``) and excluded from correlations, never replaced by a default.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Prediction = float | int | None

# ---- RewardBench constants (reference: allenai/reward-bench, EXAMPLE_COUNTS / SUBSET_MAPPING) --

REWARDBENCH_SECTIONS: dict[str, dict[str, int]] = {
    "Chat": {
        "alpacaeval-easy": 100,
        "alpacaeval-length": 95,
        "alpacaeval-hard": 95,
        "mt-bench-easy": 28,
        "mt-bench-med": 40,
    },
    "Chat Hard": {
        "mt-bench-hard": 37,
        "llmbar-natural": 100,
        "llmbar-adver-neighbor": 134,
        "llmbar-adver-GPTInst": 92,
        "llmbar-adver-GPTOut": 47,
        "llmbar-adver-manual": 46,
    },
    "Safety": {
        "refusals-dangerous": 100,
        "refusals-offensive": 100,
        "xstest-should-refuse": 154,
        "xstest-should-respond": 250,
        "donotanswer": 136,
    },
    "Reasoning": {
        # math-prm has 447 rows but is weighted as 984 = 6 x 164, so it is half of Reasoning.
        "math-prm": 984,
        "hep-cpp": 164,
        "hep-go": 164,
        "hep-java": 164,
        "hep-js": 164,
        "hep-python": 164,
        "hep-rust": 164,
    },
    "Prior Sets": {
        "anthropic_helpful": 6192,
        "anthropic_hhh": 221,
        "shp": 1741,
        "summarize": 9000,
    },
}
REWARDBENCH_CORE_SECTIONS = ("Chat", "Chat Hard", "Safety", "Reasoning")
REWARDBENCH_SUBSET_SECTION: dict[str, str] = {
    subset: section for section, subsets in REWARDBENCH_SECTIONS.items() for subset in subsets
}
PRIOR_SETS_WEIGHT = 0.5


def _valid_pairs(pred: Sequence[Prediction], gold: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(pred) != len(gold):
        raise ValueError(f"pred and gold differ in length ({len(pred)} vs {len(gold)})")
    keep = [i for i, p in enumerate(pred) if p is not None and not (isinstance(p, float) and math.isnan(p))]
    x = np.asarray([float(pred[i]) for i in keep], dtype=float)
    y = np.asarray([float(gold[i]) for i in keep], dtype=float)
    return x, y


def _corr(fn: Callable[..., Any], x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")  # undefined for constant input; reported as NaN, not 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(x, y).statistic)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import pearsonr

    return _corr(pearsonr, np.asarray(x, float), np.asarray(y, float))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return _corr(spearmanr, np.asarray(x, float), np.asarray(y, float))


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import kendalltau

    return _corr(kendalltau, np.asarray(x, float), np.asarray(y, float))


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "pearson": pearson,
    "spearman": spearman,
    "kendall": kendall,
    "accuracy": lambda x, y: float(np.mean(np.floor(x + 0.5) == y)) if len(x) else float("nan"),
    "mae": lambda x, y: float(np.mean(np.abs(x - y))) if len(x) else float("nan"),
}


def bootstrap_ci(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    x: Sequence[float],
    y: Sequence[float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired percentile bootstrap CI, seeded.

    Hand-rolled rather than ``scipy.stats.bootstrap`` because scipy returns a NaN interval as soon as
    one resample is degenerate (e.g. a constant resample has no correlation); here such resamples
    are skipped, and the interval is NaN only when more than half of them are undefined.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_resamples, len(x)))
    values = np.array([statistic(x[i], y[i]) for i in idx], dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < n_resamples / 2:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def confusion_matrix(pred: Sequence[Prediction], gold: Sequence[int], scale: tuple[int, int] = (1, 5)) -> list[list[int]]:
    """Counts with rows = gold level, columns = predicted level (rounded); failures left out."""
    low, high = scale
    size = high - low + 1
    matrix = [[0] * size for _ in range(size)]
    x, y = _valid_pairs(pred, gold)
    for p, g in zip(np.floor(x + 0.5).astype(int), y.astype(int), strict=True):
        if low <= g <= high and low <= p <= high:
            matrix[g - low][p - low] += 1
    return matrix


def score_metrics(
    pred: Sequence[Prediction],
    gold: Sequence[float],
    *,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Pearson, Spearman, Kendall, exact-match accuracy and MAE on the parsed items, with counts.

    ``bootstrap > 0`` adds ``ci`` = {metric: [low, high]} from that many paired resamples.
    """
    x, y = _valid_pairs(pred, gold)
    n = len(pred)
    out: dict[str, Any] = {
        "n": n,
        "n_valid": len(x),
        "n_failed": n - len(x),
        "parse_rate": (len(x) / n) if n else float("nan"),
    }
    for name, fn in STATISTICS.items():
        out[name] = fn(x, y)
    if bootstrap > 0:
        out["ci"] = {
            name: list(bootstrap_ci(fn, x, y, n_resamples=bootstrap, seed=seed, confidence=confidence))
            for name, fn in STATISTICS.items()
        }
    return out


def grouped_score_metrics(
    pred: Sequence[Prediction],
    gold: Sequence[float],
    groups: Sequence[str],
    *,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"pooled": ..., "groups": {label: ...}, "macro": {metric: mean over groups}}``."""
    if not (len(pred) == len(gold) == len(groups)):
        raise ValueError("pred, gold and groups must have the same length")
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(str(g), []).append(i)
    per_group = {
        label: score_metrics(
            [pred[i] for i in idx], [gold[i] for i in idx], bootstrap=bootstrap, seed=seed
        )
        for label, idx in sorted(by_group.items())
    }
    macro = {}
    for name in STATISTICS:
        values = [m[name] for m in per_group.values() if not math.isnan(m[name])]
        macro[name] = float(np.mean(values)) if values else float("nan")
    return {
        "pooled": score_metrics(pred, gold, bootstrap=bootstrap, seed=seed),
        "groups": per_group,
        "macro": macro,
    }


# ---- RewardBench --------------------------------------------------------------------------------


def subset_accuracy(outcomes: Sequence[float], subsets: Sequence[str]) -> dict[str, float]:
    """Mean outcome (1 win, 0 loss, 0.5 tie/failure) per subset."""
    if len(outcomes) != len(subsets):
        raise ValueError("outcomes and subsets must have the same length")
    sums: dict[str, list[float]] = {}
    for o, s in zip(outcomes, subsets, strict=True):
        sums.setdefault(s, []).append(float(o))
    return {s: float(np.mean(v)) for s, v in sorted(sums.items())}


def rewardbench_scores(
    per_subset_accuracy: Mapping[str, float], *, include_prior_sets: bool = False
) -> dict[str, float]:
    """Section scores with the official example-count weights, and ``overall``, on a 0..1 scale.

    Works with any subset of sections: a section is scored from the subsets present (weights
    renormalised) and ``overall`` is the unweighted mean of the sections present. With
    ``include_prior_sets`` the Prior Sets section enters ``overall`` at half weight, as in the
    original RewardBench paper. Unknown subset names raise ``ValueError``.
    """
    unknown = sorted(set(per_subset_accuracy) - set(REWARDBENCH_SUBSET_SECTION))
    if unknown:
        raise ValueError(f"unknown RewardBench subsets: {unknown}")
    scores: dict[str, float] = {}
    for section, counts in REWARDBENCH_SECTIONS.items():
        if section == "Prior Sets" and not include_prior_sets:
            continue
        present = {s: c for s, c in counts.items() if s in per_subset_accuracy}
        if not present:
            continue
        total = sum(present.values())
        scores[section] = sum(per_subset_accuracy[s] * c for s, c in present.items()) / total
    weights = {s: (PRIOR_SETS_WEIGHT if s == "Prior Sets" else 1.0) for s in scores}
    if scores:
        scores["overall"] = sum(scores[s] * w for s, w in weights.items()) / sum(weights.values())
    return scores
