"""Self-contained HTML reports (matplotlib PNGs embedded as base64) for one run or several.

One run: headline metrics with bootstrap CIs, per-group (capability / RewardBench section) bars,
confusion matrix, score distribution, a calibration plot (mean gold score per predicted-score
bin: where expected-score judging shows whether its continuous scores mean what they say),
generation counters. Several runs (e.g. greedy and expected-score of one judge): the headline table
side by side, grouped bars and calibration curves of all runs, then each run's plots.
Everything is read from ``results.json`` (:mod:`selfrat_eval.results`); nothing is recomputed but
the plots' binning.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..metrics import confusion_matrix
from ..results import RunResults, load_results

POINTWISE_HEADLINE = ("pearson", "spearman", "kendall", "accuracy", "mae")
REWARDBENCH_HEADLINE = ("score", "chat", "chat_hard", "safety", "reasoning", "accuracy")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(src: str, alt: str) -> str:
    return f'<figure><img src="{src}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return html.escape(str(v))


def _label(run: RunResults, path: str) -> str:
    return f"{Path(path).name}: {run['model']['judge']} / {run['strategy']}"


def _is_pairs(run: RunResults) -> bool:
    return run["benchmark"] == "rewardbench"


# ---- headline numbers ---------------------------------------------------------------------------


def headline(run: RunResults) -> dict[str, tuple[float | None, list[float] | None]]:
    """The main numbers of a run: metric -> (value, CI or None)."""
    m, ci = run["metrics"], run.get("ci", {})
    names = REWARDBENCH_HEADLINE if _is_pairs(run) else POINTWISE_HEADLINE
    out: dict[str, tuple[float | None, list[float] | None]] = {}
    for name in names:
        if name in m:
            out[name] = (m[name], ci.get(name))
    out["parse_rate"] = (m.get("parse_rate"), None)
    return out


def _headline_table(runs: Sequence[tuple[str, RunResults]]) -> str:
    names: list[str] = []
    for _, r in runs:
        names += [k for k in headline(r) if k not in names]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for path, r in runs:
        h = headline(r)
        cells = []
        for n in names:
            value, ci = h.get(n, (None, None))
            ci_txt = f" <small>[{_fmt(ci[0])}, {_fmt(ci[1])}]</small>" if ci and ci[0] is not None else ""
            cells.append(f"<td>{_fmt(value)}{ci_txt}</td>")
        rows.append(f"<tr><th>{html.escape(_label(r, path))}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>run</th>{head}</tr>{''.join(rows)}</table>"


# ---- plots --------------------------------------------------------------------------------------


def _group_values(run: RunResults) -> tuple[str, dict[str, tuple[float | None, list[float] | None]]]:
    """Bars of one run: RewardBench sections, or Pearson per group and pooled."""
    m, ci = run["metrics"], run.get("ci", {})
    if _is_pairs(run):
        keys = [k for k in REWARDBENCH_HEADLINE if k in m and k != "accuracy"]
        return "score", {k: (m[k], ci.get(k)) for k in keys}
    groups = sorted(k for k in m if k.startswith("pearson_") and k != "pearson_macro")
    values = {k.removeprefix("pearson_"): (m[k], ci.get(k)) for k in groups}
    values["pooled"] = (m.get("pearson"), ci.get("pearson"))
    return "Pearson", values


def plot_groups(runs: Sequence[tuple[str, RunResults]], title: str) -> str | None:
    """Grouped bars (one colour per run) with CI error bars."""
    plt = _plt()
    import numpy as np

    per_run = [(_label(r, p), *_group_values(r)) for p, r in runs]
    groups: list[str] = []
    for _, _, values in per_run:
        groups += [g for g in values if g not in groups]
    if not groups:
        return None
    width = 0.8 / len(per_run)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(groups) * max(1, len(per_run) / 2)), 3.8))
    x = np.arange(len(groups))
    for k, (label, _, values) in enumerate(per_run):
        heights, low, high = [], [], []
        for g in groups:
            v, ci = values.get(g, (None, None))
            v = math.nan if v is None else v
            heights.append(v)
            if ci and ci[0] is not None and ci[1] is not None and v == v:
                low.append(max(0.0, v - ci[0]))
                high.append(max(0.0, ci[1] - v))
            else:
                low.append(0.0)
                high.append(0.0)
        ax.bar(x + k * width - 0.4 + width / 2, heights, width, yerr=[low, high], capsize=3, label=label)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set_ylabel(per_run[0][1])
    ax.set_title(title)
    ax.axhline(0, color="black", linewidth=0.5)
    if len(per_run) > 1:
        ax.legend(fontsize=7)
    return _png(fig)


def _scale(run: RunResults) -> tuple[int, int]:
    for item in run["items"]:
        for req in item["requests"].values():
            probs = (req.get("decision") or {}).get("probs")
            if probs and all(k.isdigit() for k in probs):
                levels = sorted(int(k) for k in probs)
                return levels[0], levels[-1]
    return 1, 5


def _pointwise_pairs(run: RunResults) -> tuple[list[float | None], list[float]]:
    pred, gold = [], []
    for item in run["items"]:
        res = item["result"]
        if res.get("gold") is not None:
            pred.append(res.get("pred"))
            gold.append(float(res["gold"]))
    return pred, gold


def plot_confusion(run: RunResults) -> str | None:
    if _is_pairs(run):
        return None
    pred, gold = _pointwise_pairs(run)
    if not gold:
        return None
    low, high = _scale(run)
    matrix = confusion_matrix(pred, [int(g) for g in gold], (low, high))
    plt = _plt()
    labels = [str(low + i) for i in range(len(matrix))]
    fig, ax = plt.subplots(figsize=(4, 3.6))
    im = ax.imshow(matrix, cmap="Blues")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            # white text on the dark half of the colour map, black on the light half
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > top / 2 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("judge score (rounded)")
    ax.set_ylabel("gold score")
    ax.set_title("confusion matrix (decided items)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def calibration_points(pred: Sequence[float | None], gold: Sequence[float], *, bins: int = 8) -> list[tuple[float, float, int]]:
    """(mean prediction, mean gold, count) per equal-width bin of the decided predictions."""
    pairs = [(float(p), g) for p, g in zip(pred, gold, strict=True) if p is not None and not math.isnan(float(p))]
    if not pairs:
        return []
    lo, hi = min(p for p, _ in pairs), max(p for p, _ in pairs)
    width = (hi - lo) / bins or 1.0
    cells: dict[int, list[tuple[float, float]]] = {}
    for p, g in pairs:
        cells.setdefault(min(bins - 1, int((p - lo) / width)), []).append((p, g))
    return [
        (sum(p for p, _ in c) / len(c), sum(g for _, g in c) / len(c), len(c)) for _, c in sorted(cells.items())
    ]


def plot_calibration(runs: Sequence[tuple[str, RunResults]]) -> str | None:
    """Mean gold score per predicted-score bin, one line per run, against the diagonal."""
    series = []
    for path, run in runs:
        if _is_pairs(run):
            continue
        pred, gold = _pointwise_pairs(run)
        points = calibration_points(pred, gold)
        if points:
            series.append((_label(run, path), points))
    if not series:
        return None
    plt = _plt()
    low, high = _scale(runs[0][1])
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.plot([low, high], [low, high], color="gray", linewidth=0.8, linestyle="--", label="perfect")
    for label, points in series:
        ax.plot([p for p, _, _ in points], [g for _, g, _ in points], marker="o", label=label)
    ax.set_xlabel("judge score (bin mean)")
    ax.set_ylabel("mean gold score")
    ax.set_title("calibration")
    ax.legend(fontsize=7)
    return _png(fig)


def plot_distribution(run: RunResults) -> str | None:
    """Score histograms (judge vs gold, or chosen vs rejected); failures shown as their own bar."""
    plt = _plt()
    if _is_pairs(run):
        outcomes = [float(i["result"]["outcome"]) for i in run["items"]]
        if not outcomes:
            return None
        counts = {
            "win": sum(o == 1.0 for o in outcomes),
            "loss": sum(o == 0.0 for o in outcomes),
            "tie / undecided / partial": sum(o not in (0.0, 1.0) for o in outcomes),
        }
        fig, ax = plt.subplots(figsize=(4.4, 3))
        ax.bar(list(counts), list(counts.values()), color=["tab:green", "tab:red", "tab:gray"])
        ax.set_title("pair outcomes")
        return _png(fig)
    import numpy as np

    pred = [i["result"].get("pred") for i in run["items"]]
    gold = [i["result"].get("gold") for i in run["items"]]
    series = {"judge": pred} | ({"gold": gold} if any(g is not None for g in gold) else {})
    low, high = _scale(run)
    levels = list(range(low, high + 1))
    labels = [str(v) for v in levels] + ["failed"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    width = 0.8 / len(series)
    x = np.arange(len(labels))
    for k, (name, values) in enumerate(series.items()):
        counts = [sum(1 for v in values if v is not None and math.floor(v + 0.5) == level) for level in levels]
        counts.append(sum(1 for v in values if v is None))
        ax.bar(x + k * width - 0.4 + width / 2, counts, width, label=name)
    ax.set_xticks(x, labels)
    ax.set_ylabel("items")
    ax.set_title("score distribution (rounded)")
    ax.legend(fontsize=8)
    return _png(fig)


# ---- pages --------------------------------------------------------------------------------------

_CSS = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}figure{display:inline-block;margin:8px}
figcaption{font-size:12px;color:#555}code{background:#f4f4f4;padding:1px 4px}"""


def _run_section(path: str, run: RunResults) -> str:
    gen, data, model = run["generation"], run["data"], run["model"]
    parts = [f"<h2>{html.escape(_label(run, path))}</h2>"]
    parts.append(
        "<p>benchmark <code>{}</code>, data <code>{}</code> (revision {}, {} items of {}, dropped {}), model id "
        "<code>{}</code>, backend {}, prompt format {}</p>".format(
            html.escape(run["benchmark"]),
            html.escape(str(data.get("source"))),
            html.escape(str(data.get("revision"))),
            data.get("n_items"),
            data.get("n_loaded"),
            html.escape(str(data.get("dropped"))),
            html.escape(str(model.get("model_id"))),
            html.escape(str(model.get("backend"))),
            html.escape(str(model.get("prompt_format"))),
        )
    )
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in run["metrics"].items())
    parts.append(f"<details><summary>all metrics</summary><table>{rows}</table></details>")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in gen.items())
    parts.append(f"<details><summary>generation counters</summary><table>{rows}</table></details>")
    for src, alt in (
        (plot_groups([(path, run)], "per group (95% bootstrap CI)"), "per-group scores with CIs"),
        (plot_confusion(run), "confusion matrix"),
        (plot_distribution(run), "score distribution"),
        (plot_calibration([(path, run)]), "calibration: mean gold score per judge-score bin"),
    ):
        if src:
            parts.append(_img(src, alt))
    return "\n".join(parts)


def render_report(run_paths: Sequence[str | os.PathLike[str]]) -> str:
    runs = [(str(p), load_results(p)) for p in run_paths]
    if not runs:
        raise ValueError("no runs to report")
    title = "selfrat-eval report" if len(runs) == 1 else f"selfrat-eval comparison of {len(runs)} runs"
    body = [f"<h1>{html.escape(title)}</h1>", _headline_table(runs)]
    if len(runs) > 1:
        kinds = {_is_pairs(r) for _, r in runs}
        if len(kinds) == 1:
            for src, alt in (
                (plot_groups(runs, "runs side by side (95% bootstrap CI)"), "comparison per group"),
                (plot_calibration(runs), "calibration of every run"),
            ):
                if src:
                    body.append(_img(src, alt))
        else:
            body.append("<p>The runs are on different kinds of benchmark; no joint plot.</p>")
    body += [_run_section(p, r) for p, r in runs]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(run_paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Write the HTML report of one or more run folders to ``out`` (written atomically)."""
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; name the .html file to write")
    text = render_report(run_paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
