"""Judge metrics: agreement with gold scores and RewardBench accuracy, shared by every front end.

Predictions are ``float | None``; ``None`` is a failed judgment (unparsable). Failures are always
counted (``n_failed``, ``parse_rate``) and excluded from correlations, never replaced by a default.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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


def _as_floats(values: Sequence[Prediction]) -> np.ndarray:
    """Floats with NaN for ``None`` (a failed judgment, or an item without a gold score)."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _split_items(pred: Sequence[Prediction], gold: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(x, y, n_failed, n_no_gold): the items with a gold score and a parsed prediction.

    Items whose gold is None/NaN are left out of everything and counted apart (``n_no_gold``);
    failed predictions are counted among the items that have a gold score.
    """
    if len(pred) != len(gold):
        raise ValueError(f"pred and gold differ in length ({len(pred)} vs {len(gold)})")
    x, y = _as_floats(pred), _as_floats(gold)
    has_gold = ~np.isnan(y)
    parsed = has_gold & ~np.isnan(x)
    return x[parsed], y[parsed], int(has_gold.sum() - parsed.sum()), int((~has_gold).sum())


def _valid_pairs(pred: Sequence[Prediction], gold: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = _split_items(pred, gold)
    return x, y


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Nearest integer, halves up (2.5 -> 3): Python's round() would send 2.5 to 2."""
    return np.floor(np.asarray(x, dtype=float) + 0.5)


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
    """Kendall's tau-b (scipy's default), which accounts for ties."""
    from scipy.stats import kendalltau

    return _corr(kendalltau, np.asarray(x, float), np.asarray(y, float))


def accuracy(x: Sequence[float], y: Sequence[float]) -> float:
    """Exact-match rate of predictions rounded half up (a mean of 3.5 counts as 4)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.mean(round_half_up(x) == y)) if len(x) else float("nan")


def mae(x: Sequence[float], y: Sequence[float]) -> float:
    """Mean absolute error of predictions rounded half up, like :func:`accuracy`."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.mean(np.abs(round_half_up(x) - y))) if len(x) else float("nan")


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "pearson": pearson,
    "spearman": spearman,
    "kendall": kendall,
    "accuracy": accuracy,
    "mae": mae,
}

# ---- bootstrap ----------------------------------------------------------------------------------

# Elements of the resample-index matrix drawn at a time (2 MB of int64): memory stays bounded
# whatever n and the number of resamples, and the per-chunk arrays stay in the CPU cache (4x
# larger chunks were 20-50% slower). Chunked draws equal one big draw from the same seed.
_CHUNK_ELEMENTS = 250_000
# Distinct (prediction, gold) value pairs up to which resamples are summarised as contingency
# tables (integer scores, means of a few samples): every statistic is then exact and O(cells).
_TABLE_CELLS = 4096
# Kendall's tau on continuous predictions costs O(m log m) per resample in scipy: beyond this many
# items its interval comes from an m-out-of-n bootstrap (see bootstrap_distributions).
KENDALL_BOOTSTRAP_CAP = 2000


def _index_chunks(n: int, n_resamples: int, seed: int, width: int = 0) -> Iterator[np.ndarray]:
    """Rows of one seeded (n_resamples, n) matrix of resample indices, a bounded chunk at a time;
    ``width`` is the size of the largest per-resample array built from a chunk (n by default)."""
    rng = np.random.default_rng(seed)
    for rows in _chunk_rows(n_resamples, max(n, width)):
        yield rng.integers(0, n, size=(rows, n))


def _rowwise_pearson(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson of each row of ``x`` vs ``y`` (shape (B, n)) over the items where ``mask`` holds;
    NaN where those items are constant or fewer than 2."""
    w = mask.astype(float)
    cnt = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (w * x).sum(axis=1) / cnt
        my = (w * y).sum(axis=1) / cnt
        dx = x - mx[:, None]
        dy = y - my[:, None]
        sxx, syy, sxy = (w * dx * dx).sum(axis=1), (w * dy * dy).sum(axis=1), (w * dx * dy).sum(axis=1)
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    return np.where((cnt < 2) | _constant_rows(x, w) | _constant_rows(y, w), np.nan, r)


def _constant_rows(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rows whose weighted items all hold one value: exact, unlike a variance near zero."""
    used = w > 0
    return np.where(used, x, np.inf).min(axis=1) >= np.where(used, x, -np.inf).max(axis=1)


def _average_ranks(counts: np.ndarray) -> np.ndarray:
    """Average (tie-aware, 1-based) rank of each sorted distinct value from its count per row."""
    return np.cumsum(counts, axis=1) - (counts - 1) / 2


def _centred_ranks(counts: np.ndarray, centre: float) -> np.ndarray:
    """``_average_ranks(counts) - centre``, in place on one array (these are the big ones)."""
    ranks = np.cumsum(counts, axis=1)
    ranks -= 0.5 * counts
    ranks += 0.5 - centre
    return ranks


def _table_pearson(c: np.ndarray, rx: np.ndarray, ry: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Pearson from contingency tables ``c`` (B, Kx, Ky) with margins and cell values per row."""
    n = rx.sum(axis=1)
    dx = vx - ((rx * vx).sum(axis=1) / n)[:, None]
    dy = vy - ((ry * vy).sum(axis=1) / n)[:, None]
    sxx, syy = (rx * dx * dx).sum(axis=1), (ry * dy * dy).sum(axis=1)
    sxy = np.einsum("bij,bi,bj->b", c, dx, dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)


def _table_kendall(c: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Kendall's tau-b from contingency tables (rows and columns in increasing value order)."""
    b, kx, ky = c.shape
    # above[i, j] = items with larger x and larger y than cell (i, j); below: larger x, smaller y.
    rev = c[:, ::-1, :].cumsum(axis=1)[:, ::-1, :]  # sum over x' >= x
    above = np.zeros_like(c)
    above[:, :-1, :-1] = rev[:, 1:, ::-1].cumsum(axis=2)[:, :, ::-1][:, :, 1:]
    below = np.zeros_like(c)
    below[:, :-1, 1:] = rev[:, 1:, :].cumsum(axis=2)[:, :, :-1]
    concordant = (c * above).sum(axis=(1, 2))
    discordant = (c * below).sum(axis=(1, 2))
    n = rx.sum(axis=1)
    pairs = n * (n - 1) / 2
    ties_x = (rx * (rx - 1) / 2).sum(axis=1)
    ties_y = (ry * (ry - 1) / 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip((concordant - discordant) / np.sqrt((pairs - ties_x) * (pairs - ties_y)), -1.0, 1.0)


def _table_statistics(
    idx: np.ndarray, joint: np.ndarray, vx: np.ndarray, vy: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Every statistic of each resample from its (prediction value x gold value) count table."""
    b, (kx, ky) = len(idx), (len(vx), len(vy))
    cells = joint[idx] + (np.arange(b) * kx * ky)[:, None]
    c = np.bincount(cells.ravel(), minlength=b * kx * ky).reshape(b, kx, ky).astype(float)
    rx, ry = c.sum(axis=2), c.sum(axis=1)
    n = rx.sum(axis=1)
    undefined = ((rx > 0).sum(axis=1) < 2) | ((ry > 0).sum(axis=1) < 2)  # a constant resample
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "pearson":
            value = _table_pearson(c, rx, ry, np.broadcast_to(vx, rx.shape), np.broadcast_to(vy, ry.shape))
        elif name == "spearman":
            value = _table_pearson(c, rx, ry, _average_ranks(rx), _average_ranks(ry))
        elif name == "kendall":
            value = _table_kendall(c, rx, ry)
        elif name == "accuracy":
            value = (c * (round_half_up(vx)[:, None] == vy[None, :])).sum(axis=(1, 2)) / n
        else:  # mae
            value = (c * np.abs(round_half_up(vx)[:, None] - vy[None, :])).sum(axis=(1, 2)) / n
        if name in ("pearson", "spearman", "kendall"):
            value = np.where(undefined, np.nan, value)
        out[name] = value
    return out


def _resample_ranks(codes: np.ndarray, idx: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Tie-aware ranks of every element of each resample, from counts of its value codes: O(n + k)
    per resample, no sort. With ``mask``, ranks are among the masked elements only."""
    b = len(idx)
    c = codes[idx]
    weights = None if mask is None else mask.ravel().astype(float)
    counts = np.bincount((c + (np.arange(b) * k)[:, None]).ravel(), weights=weights, minlength=b * k)
    return np.take_along_axis(_average_ranks(counts.reshape(b, k).astype(float)), c, axis=1)


def _kendall_m_out_of_n(x: np.ndarray, y: np.ndarray, n_resamples: int, seed: int, m: int) -> np.ndarray:
    """Kendall's tau on resamples of m < n items, mapped to the n-item scale: T + sqrt(m/n)(T*_m - T).

    The m-out-of-n bootstrap (Bickel, Goetze & van Zwet 1997): tau is asymptotically normal with
    variance ~1/n, so deviations of m-item resamples shrink by sqrt(m/n) to those of n items.
    scipy computes each resample's tau in O(m log m); a vectorised count was no faster.
    """
    point = kendall(x, y)
    rng = np.random.default_rng([seed, 1])  # its own stream: the shared index matrix is unchanged
    values = np.concatenate(
        [_kendall_resamples(x, y, rng.integers(0, len(x), size=(rows, m))) for rows in _chunk_rows(n_resamples, m)]
    )
    return point + np.sqrt(m / len(x)) * (values - point)


def _kendall_resamples(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    from scipy.stats import kendalltau

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns and returns NaN on a constant resample
        return np.array([kendalltau(x[i], y[i]).statistic for i in idx])


def _chunk_rows(n_resamples: int, n: int) -> list[int]:
    rows = max(1, _CHUNK_ELEMENTS // max(n, 1))
    return [min(rows, n_resamples - start) for start in range(0, n_resamples, rows)]


# Gold scores with at most this many distinct values are ranked per resample through one matrix
# product (multiplicities x one-hot of the gold value); more distinct values take a gather.
_FEW_GOLD_VALUES = 64


@dataclass(frozen=True)
class _ByPrediction:
    """Items relabelled in increasing prediction order, with the per-item columns whose
    multiplicity-weighted sums give Pearson, accuracy and MAE of a resample in one matrix product."""

    n: int
    position: np.ndarray  # item -> its position in prediction order
    x_groups: np.ndarray | None  # first position of each distinct prediction; None: all distinct
    x_sizes: np.ndarray | None
    y_codes: np.ndarray  # code of the gold value at each position
    n_gold_values: int
    y_order: np.ndarray  # positions sorted by gold value (used when gold has many values)
    y_groups: np.ndarray
    columns: np.ndarray  # (n, 7 [+ gold values]): x, y, x^2, y^2, xy, exact, |error| [, one-hot y]

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray) -> _ByPrediction:
        order = np.argsort(x, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(x))
        xs, ys = x[order], y[order]
        vx, x_groups, x_sizes = np.unique(xs, return_index=True, return_counts=True)
        vy, y_codes = np.unique(ys, return_inverse=True)
        y_order = np.argsort(y_codes, kind="stable")
        y_groups = np.flatnonzero(np.r_[True, np.diff(y_codes[y_order]) != 0])
        dx, dy = xs - xs.mean(), ys - ys.mean()  # centred: the sums below do not cancel
        rounded = round_half_up(xs)
        cols = [dx, dy, dx * dx, dy * dy, dx * dy, (rounded == ys).astype(float), np.abs(rounded - ys)]
        if len(vy) <= _FEW_GOLD_VALUES:
            cols += list(np.eye(len(vy))[y_codes].T)
        distinct = len(vx) == len(x)
        return cls(
            n=len(x),
            position=position,
            x_groups=None if distinct else x_groups,
            x_sizes=None if distinct else x_sizes,
            y_codes=y_codes,
            n_gold_values=len(vy),
            y_order=y_order,
            y_groups=y_groups,
            columns=np.stack(cols, axis=1),
        )


def _itemwise_statistics(idx: np.ndarray, d: _ByPrediction, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Statistics of each resample from the multiplicity of every item in it (rows of ``idx``).

    Sums are one matrix product; Spearman ranks come from cumulative multiplicities in prediction
    (and gold) order, so no resample is sorted.
    """
    b, n = idx.shape
    m = np.bincount((d.position[idx] + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n)
    m = m.reshape(b, n).astype(float)
    sums = m @ d.columns
    wx = m if d.x_groups is None else np.add.reduceat(m, d.x_groups, axis=1)  # per distinct prediction
    few_gold = d.n_gold_values <= _FEW_GOLD_VALUES
    wy = sums[:, 7:] if few_gold else np.add.reduceat(m[:, d.y_order], d.y_groups, axis=1)
    undefined = (np.count_nonzero(wx, axis=1) < 2) | (np.count_nonzero(wy, axis=1) < 2)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        if "pearson" in names:
            sx, sy, sxx, syy, sxy = sums[:, :5].T
            cov, vx, vy = sxy - sx * sy / n, sxx - sx * sx / n, syy - sy * sy / n
            out["pearson"] = np.where(undefined, np.nan, np.clip(cov / np.sqrt(vx * vy), -1.0, 1.0))
        if "accuracy" in names:
            out["accuracy"] = sums[:, 5] / n
        if "mae" in names:
            out["mae"] = sums[:, 6] / n
        if "spearman" in names:
            centre = (n + 1) / 2  # average ranks of n items always sum to n(n+1)/2
            rank_x, rank_y = _centred_ranks(wx, centre), _centred_ranks(wy, centre)
            vy = np.einsum("bk,bk,bk->b", wy, rank_y, rank_y)
            if d.x_sizes is None:  # distinct predictions: items are the rank groups, m == wx
                weighted = wx * rank_x
                vx = np.einsum("bk,bk->b", weighted, rank_x)
            else:
                vx = np.einsum("bk,bk,bk->b", wx, rank_x, rank_x)
                weighted = m * np.repeat(rank_x, d.x_sizes, axis=1)  # per item
            if few_gold:
                cov = np.einsum("bk,bk->b", weighted @ d.columns[:, 7:], rank_y)
            else:
                cov = np.einsum("bi,bi->b", weighted, rank_y[:, d.y_codes])
            out["spearman"] = np.where(undefined, np.nan, np.clip(cov / np.sqrt(vx * vy), -1.0, 1.0))
    return out


def bootstrap_distributions(
    x: Sequence[float],
    y: Sequence[float],
    names: Sequence[str] = tuple(STATISTICS),
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Each named statistic on every paired resample (NaN where undefined), vectorised.

    All statistics share one seeded (n_resamples, n) index matrix, drawn in bounded chunks.
    When the data have at most 4,096 distinct (x, y) value pairs (integer scores, means of a few
    samples), each resample is reduced to a contingency table and every statistic, Kendall's tau-b
    included, is exact from it. Otherwise each resample is reduced to the multiplicity of every
    item: Pearson, accuracy and MAE are multiplicity-weighted sums and Spearman ranks come from
    cumulative multiplicities (exact, no sort); Kendall's tau is exact per resample up to
    ``KENDALL_BOOTSTRAP_CAP`` (2,000) items, and beyond that uses an m-out-of-n bootstrap with
    m = 2,000 items per resample, rescaled by sqrt(m/n) (see :func:`_kendall_m_out_of_n`).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    unknown = [name for name in names if name not in STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}; known: {list(STATISTICS)}")
    n = len(x)
    vx, cx = np.unique(x, return_inverse=True)
    vy, cy = np.unique(y, return_inverse=True)
    tables = len(vx) * len(vy) <= _TABLE_CELLS
    by_prediction = None if tables else _ByPrediction.build(x, y)
    kendall_apart = "kendall" in names and not tables and n > KENDALL_BOOTSTRAP_CAP
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for idx in _index_chunks(n, n_resamples, seed, width=len(vx) * len(vy) if tables else n):
        if by_prediction is None:
            values = _table_statistics(idx, cx * len(vy) + cy, vx, vy, names)
        else:
            values = _itemwise_statistics(idx, by_prediction, names)
            if "kendall" in names and not kendall_apart:
                values["kendall"] = _kendall_resamples(x, y, idx)
        for name, value in values.items():
            parts[name].append(value)
    out = {name: np.concatenate(chunks) if chunks else np.empty(0) for name, chunks in parts.items()}
    if kendall_apart:
        out["kendall"] = _kendall_m_out_of_n(x, y, n_resamples, seed, KENDALL_BOOTSTRAP_CAP)
    return out


def _percentile_interval(values: np.ndarray, n_resamples: int, confidence: float) -> tuple[float, float]:
    """Percentile interval over the defined resamples; NaN when more than half are undefined."""
    values = values[~np.isnan(values)]
    if len(values) == 0 or len(values) < n_resamples / 2:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def bootstrap_cis(
    x: Sequence[float],
    y: Sequence[float],
    names: Sequence[str] = tuple(STATISTICS),
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Paired percentile bootstrap CIs of several statistics from the same resamples."""
    if len(x) < 3:
        return {name: (float("nan"), float("nan")) for name in names}
    dists = bootstrap_distributions(x, y, names, n_resamples=n_resamples, seed=seed)
    return {name: _percentile_interval(dists[name], n_resamples, confidence) for name in names}


def bootstrap_ci(
    statistic: Callable[[np.ndarray, np.ndarray], float] | str,
    x: Sequence[float],
    y: Sequence[float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired percentile bootstrap CI, seeded and deterministic.

    Hand-rolled rather than ``scipy.stats.bootstrap`` because scipy returns a NaN interval as soon as
    one resample is degenerate (e.g. a constant resample has no correlation); here such resamples
    are skipped, and the interval is NaN only when more than half of them are undefined.
    The statistics of :data:`STATISTICS` (by name or function) are vectorised, see
    :func:`bootstrap_distributions`; any other callable is applied resample by resample.
    """
    name = statistic if isinstance(statistic, str) else next(
        (k for k, fn in STATISTICS.items() if fn is statistic), None
    )
    if name is not None:
        return bootstrap_cis(x, y, [name], n_resamples=n_resamples, confidence=confidence, seed=seed)[name]
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return float("nan"), float("nan")
    values = np.concatenate(
        [[statistic(x[i], y[i]) for i in idx] for idx in _index_chunks(len(x), n_resamples, seed)]
    ).astype(float)
    return _percentile_interval(values, n_resamples, confidence)


# ---- paired comparison of two judges ------------------------------------------------------------


def _masked_statistic(
    metric: str, values: np.ndarray, codes: np.ndarray, k: int, gold: np.ndarray, gold_codes: np.ndarray,
    k_gold: int, mask: np.ndarray, idx: np.ndarray,
) -> np.ndarray:
    """Pearson or Spearman of each resample (rows of ``idx``) over the items where ``mask`` holds."""
    m = mask[idx]
    if metric == "pearson":
        return _rowwise_pearson(values[idx], gold[idx], m)
    return _rowwise_pearson(_resample_ranks(codes, idx, k, m), _resample_ranks(gold_codes, idx, k_gold, m), m)


def paired_bootstrap_diff(
    pred_a: Sequence[Prediction],
    pred_b: Sequence[Prediction],
    gold: Sequence[Prediction],
    *,
    metric: str = "pearson",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """``metric``(a) - ``metric``(b) on the same items (Pearson or Spearman), with a paired
    percentile bootstrap CI.

    Each resample draws item indices once and scores both judges on them, so the shared item
    difficulty cancels. As in :func:`score_metrics`, each judge is scored on its own parsed items,
    and items without a gold score are left out. Returns ``{metric}_a``, ``{metric}_b``, ``diff``,
    ``ci``, ``n_defined`` (resamples where both are defined) and ``p_not_greater`` (share of
    resamples with a difference <= 0).
    """
    if metric not in ("pearson", "spearman"):
        raise ValueError(f"metric must be 'pearson' or 'spearman', got {metric!r}")
    if not (len(pred_a) == len(pred_b) == len(gold)):
        raise ValueError("pred_a, pred_b and gold must have the same length")
    g, a, b = _as_floats(gold), _as_floats(pred_a), _as_floats(pred_b)
    has_gold = ~np.isnan(g)
    ma, mb = has_gold & ~np.isnan(a), has_gold & ~np.isnan(b)
    g, a, b = np.nan_to_num(g), np.nan_to_num(a), np.nan_to_num(b)
    (va, ca), (vb, cb), (vg, cg) = (np.unique(v, return_inverse=True) for v in (a, b, g))
    n = len(g)

    def both(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            _masked_statistic(metric, a, ca, len(va), g, cg, len(vg), ma, idx),
            _masked_statistic(metric, b, cb, len(vb), g, cg, len(vg), mb, idx),
        )

    point_a, point_b = (float(v[0]) for v in both(np.arange(n)[None]))
    out: dict[str, Any] = {
        "metric": metric,
        f"{metric}_a": point_a,
        f"{metric}_b": point_b,
        "diff": point_a - point_b,
        "n": n,
        "n_resamples": n_resamples,
        "confidence": confidence,
        "seed": seed,
    }
    if n < 3 or n_resamples < 1:
        out["ci"] = [float("nan"), float("nan")]
        return out
    diffs = []
    for idx in _index_chunks(n, n_resamples, seed):
        ra, rb = both(idx)
        diffs.append(ra - rb)
    d = np.concatenate(diffs)
    d = d[~np.isnan(d)]
    alpha = (1 - confidence) / 2
    out["n_defined"] = int(len(d))
    out["ci"] = (
        [float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha))] if len(d) else [float("nan")] * 2
    )
    out["p_not_greater"] = float(np.mean(d <= 0)) if len(d) else float("nan")
    return out


def across_seeds(diffs: Sequence[float], *, confidence: float = 0.95) -> dict[str, Any]:
    """Seeds as replicates: the mean of per-seed differences with a Student-t CI.

    A pooled item bootstrap (:func:`paired_bootstrap_diff` on the seeds' items concatenated) sees
    only item noise; each seed also trains its own judge from its own samples, and this interval
    is the one that sees how much that moves the difference. With 2-3 seeds it is wide, which is
    the point. Returns ``mean``, ``sd``, ``ci``, ``n_seeds`` and ``p_not_greater`` (one-sided t test
    of mean <= 0); NaN where fewer than 2 finite differences or they are all equal. NaN
    differences (a seed where a metric is undefined) are left out and counted in ``n_undefined``.
    """
    from scipy.stats import ttest_1samp

    d = np.asarray([x for x in diffs if x is not None and not math.isnan(x)], dtype=float)
    out: dict[str, Any] = {
        "mean": float(d.mean()) if len(d) else float("nan"),
        "sd": float(d.std(ddof=1)) if len(d) > 1 else float("nan"),
        "n_seeds": int(len(d)),
        "n_undefined": len(diffs) - int(len(d)),
        "confidence": confidence,
        "ci": [float("nan"), float("nan")],
        "p_not_greater": float("nan"),
    }
    if len(d) < 2 or np.all(d == d[0]):
        return out
    two_sided = ttest_1samp(d, 0.0)
    ci = two_sided.confidence_interval(confidence)
    out["ci"] = [float(ci.low), float(ci.high)]
    out["p_not_greater"] = float(ttest_1samp(d, 0.0, alternative="greater").pvalue)
    return out


def confusion_matrix(pred: Sequence[Prediction], gold: Sequence[int], scale: tuple[int, int] = (1, 5)) -> list[list[int]]:
    """Counts with rows = gold level, columns = predicted level (rounded); failures left out."""
    low, high = scale
    size = high - low + 1
    matrix = [[0] * size for _ in range(size)]
    x, y = _valid_pairs(pred, gold)
    for p, g in zip(round_half_up(x).astype(int), y.astype(int), strict=True):
        if low <= g <= high and low <= p <= high:
            matrix[g - low][p - low] += 1
    return matrix


def score_metrics(
    pred: Sequence[Prediction],
    gold: Sequence[Prediction],
    *,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Pearson, Spearman, Kendall (tau-b), exact-match accuracy and MAE on the parsed items, with counts.

    Accuracy and MAE are on predictions rounded half up (a self-consistency mean or an expected
    score of 3.5 counts as 4); correlations use the predictions as they are. Items whose gold is
    None or NaN are left out and counted in ``n_no_gold``; ``n = n_valid + n_failed + n_no_gold``
    and ``parse_rate = n_valid / (n_valid + n_failed)``.
    ``bootstrap > 0`` adds ``ci`` = {metric: [low, high]} from that many paired resamples
    (default 0: no intervals; see :func:`bootstrap_distributions` for how they are computed).
    """
    x, y, n_failed, n_no_gold = _split_items(pred, gold)
    n_scored = len(x) + n_failed
    out: dict[str, Any] = {
        "n": len(pred),
        "n_valid": len(x),
        "n_failed": n_failed,
        "n_no_gold": n_no_gold,
        "parse_rate": (len(x) / n_scored) if n_scored else float("nan"),
    }
    for name, fn in STATISTICS.items():
        out[name] = fn(x, y)
    if bootstrap > 0:
        cis = bootstrap_cis(x, y, list(STATISTICS), n_resamples=bootstrap, seed=seed, confidence=confidence)
        out["ci"] = {name: list(ci) for name, ci in cis.items()}
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
