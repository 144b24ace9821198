"""Self-contained HTML reports (matplotlib PNGs embedded as base64) for one run or several.

One run: headline metrics, confusion matrix, per-group (capability / RewardBench section) bars
with bootstrap CIs, score distributions, generation counters. Several runs: the same headline
table side by side and grouped bars comparing the runs per group/section, then each run's plots.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .evaluate import load_results


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
        return f"{v:.3f}"
    return html.escape(str(v))


def _label(run: dict[str, Any], path: str) -> str:
    cfg = run["config"]
    return f"{Path(path).name}: {cfg['judge']} / {cfg['strategy']}" + (
        f" n={cfg['n']}" if cfg["n"] > 1 else ""
    )


# ---- headline numbers ---------------------------------------------------------------------------


def headline(run: dict[str, Any]) -> dict[str, tuple[float | None, list[float] | None]]:
    """The main numbers of a run: metric -> (value, CI or None)."""
    m = run["metrics"]
    out: dict[str, tuple[float | None, list[float] | None]] = {"parse rate": (m.get("parse_rate"), None)}
    if m["kind"] == "rewardbench":
        for name, value in m["sections"].items():
            out[name] = (value, m.get("ci", {}).get(name))
    elif "pooled" in m:
        pooled = m["pooled"]
        for name in ("pearson", "spearman", "kendall", "accuracy", "mae"):
            out[name] = (pooled.get(name), (pooled.get("ci") or {}).get(name))
    return out


def _headline_table(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    names: list[str] = []
    for _, r in runs:
        for k in headline(r):
            if k not in names:
                names.append(k)
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


def _group_values(run: dict[str, Any]) -> tuple[str, dict[str, tuple[float | None, list[float] | None]]]:
    m = run["metrics"]
    if m["kind"] == "rewardbench":
        return "score", {k: (v, m.get("ci", {}).get(k)) for k, v in m["sections"].items()}
    if "groups" in m:
        return "Pearson", {
            g: (v.get("pearson"), (v.get("ci") or {}).get("pearson")) for g, v in m["groups"].items()
        } | {"pooled": (m["pooled"].get("pearson"), (m["pooled"].get("ci") or {}).get("pearson"))}
    if "pooled" in m:
        p = m["pooled"]
        return "value", {
            k: (p.get(k), (p.get("ci") or {}).get(k)) for k in ("pearson", "spearman", "kendall", "accuracy")
        }
    return "", {}


def plot_groups(runs: Sequence[tuple[str, dict[str, Any]]], title: str) -> str | None:
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
            v = float("nan") if v is None else v
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


def plot_confusion(run: dict[str, Any]) -> str | None:
    m = run["metrics"]
    matrix = m.get("confusion_matrix")
    if not matrix:
        return None
    plt = _plt()
    low = m["scale"][0]
    labels = [str(low + i) for i in range(len(matrix))]
    fig, ax = plt.subplots(figsize=(4, 3.6))
    im = ax.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("judge score")
    ax.set_ylabel("gold score")
    ax.set_title("confusion matrix (parsed items)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def _item_scores(run: dict[str, Any]) -> dict[str, list[float | None]]:
    m = run["metrics"]
    items = run.get("items", [])
    if m["kind"] == "rewardbench" and m.get("mode") == "pointwise":
        return {
            "chosen": [i["chosen"].get("pred") for i in items],
            "rejected": [i["rejected"].get("pred") for i in items],
        }
    if m["kind"] == "pointwise":
        out = {"judge": [i.get("pred") for i in items]}
        if any(i.get("gold") is not None for i in items):
            out["gold"] = [i.get("gold") for i in items]
        return out
    return {}


def plot_distribution(run: dict[str, Any]) -> str | None:
    """Score histograms (judge vs gold, or chosen vs rejected); failures shown as their own bar."""
    series = _item_scores(run)
    if not series:
        m = run["metrics"]
        counts = m.get("outcome_counts")
        if not counts:
            return None
        plt = _plt()
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.bar(list(counts), list(counts.values()), color=["tab:green", "tab:red", "tab:gray"])
        ax.set_title("pair outcomes")
        return _png(fig)
    plt = _plt()
    import numpy as np

    scale = run["metrics"].get("scale") or run["config"].get("scale") or [1, 5]
    levels = list(range(scale[0], scale[1] + 1))
    labels = [str(v) for v in levels] + ["failed"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    width = 0.8 / len(series)
    x = np.arange(len(labels))
    for k, (name, values) in enumerate(series.items()):
        counts = [sum(1 for v in values if v is not None and round(v) == level) for level in levels]
        counts.append(sum(1 for v in values if v is None))
        ax.bar(x + k * width - 0.4 + width / 2, counts, width, label=name)
    ax.set_xticks(x, labels)
    ax.set_ylabel("items")
    ax.set_title("score distribution")
    ax.legend(fontsize=8)
    return _png(fig)


# ---- pages --------------------------------------------------------------------------------------

_CSS = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}figure{display:inline-block;margin:8px}
figcaption{font-size:12px;color:#555}code{background:#f4f4f4;padding:1px 4px}"""


def _run_section(path: str, run: dict[str, Any]) -> str:
    gen = run.get("generation", {})
    data = run.get("data", {})
    parts = [f"<h2>{html.escape(_label(run, path))}</h2>"]
    parts.append(
        "<p>data: <code>{}</code> (revision {}, {} items of {}), model id <code>{}</code>, backend {}, "
        "prompt format {}</p>".format(
            html.escape(str(data.get("source"))),
            html.escape(str(data.get("revision"))),
            data.get("n_items"),
            data.get("n_loaded"),
            html.escape(str(run["model"].get("model_id"))),
            run["model"].get("backend"),
            run["model"].get("prompt_format"),
        )
    )
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in gen.items())
    parts.append(f"<details><summary>generation counters</summary><table>{rows}</table></details>")
    for src, alt in (
        (plot_groups([(path, run)], "per group (95% bootstrap CI)"), "per-group scores with CIs"),
        (plot_confusion(run), "confusion matrix"),
        (plot_distribution(run), "score distribution"),
    ):
        if src:
            parts.append(_img(src, alt))
    m = run["metrics"]
    if m["kind"] == "rewardbench":
        rows = "".join(
            f"<tr><td>{html.escape(s)}</td><td>{m['subset_counts'].get(s)}</td><td>{_fmt(a)}</td></tr>"
            for s, a in m["subsets"].items()
        )
        parts.append(f"<table><tr><th>subset</th><th>pairs</th><th>accuracy</th></tr>{rows}</table>")
    return "\n".join(parts)


def render_report(run_paths: Sequence[str | os.PathLike[str]]) -> str:
    runs = [(str(p), load_results(p)) for p in run_paths]
    if not runs:
        raise ValueError("no runs to report")
    title = "selfrat-eval report" if len(runs) == 1 else f"selfrat-eval comparison of {len(runs)} runs"
    body = [f"<h1>{html.escape(title)}</h1>", _headline_table(runs)]
    if len(runs) > 1:
        kinds = {r["metrics"]["kind"] for _, r in runs}
        if len(kinds) == 1:
            src = plot_groups(runs, "runs side by side (95% bootstrap CI)")
            if src:
                body.append(_img(src, "comparison per group"))
        else:
            body.append("<p>The runs are on different kinds of benchmark; no joint plot.</p>")
    body += [_run_section(p, r) for p, r in runs]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(run_paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Write the HTML report of one or more run folders to ``out``."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run_paths), encoding="utf-8")
    return path
