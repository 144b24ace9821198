"""Demo report: one self-contained HTML page (plots embedded as base64 PNG) plus a JSON file.

Input is a *results* mapping (what :mod:`selfrat_eval.demo.pipeline` writes to ``results.json``)::

    {
      "title": "...",
      "items": [{"id", "instruction", "response", "gold"}, ...],          # held-out items, in order
      "judges": [{"name", "role", "iteration", "predictions": [float|None], "rationales": [str]|None}],
      "before": "SFT seed", "after": "SRE iter 2",                        # sample rationales
      "comparisons": [["SRE iter 2", "SFT seed"], ...],                   # paired bootstrap diffs
      "extra_tables": {"caption": {"judge": {"metric": value}}},          # e.g. a RewardBench slice
      "meta": {...}
    }

Metrics come from :func:`selfrat_eval.metrics.score_metrics` and ``confusion_matrix``; failed
judgments (``None``) are counted in the parse rate and excluded from the correlations.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics import confusion_matrix, paired_bootstrap_diff, score_metrics

Prediction = float | None
TABLE_METRICS = ("pearson", "spearman", "accuracy")


class ReportError(ValueError):
    """The results mapping is malformed; the message names the judge and the field."""


# ---- validation ---------------------------------------------------------------------------------


def _validate(results: Mapping[str, Any]) -> tuple[list[float], list[dict[str, Any]]]:
    items = results.get("items")
    if not isinstance(items, list) or not items:
        raise ReportError("results: 'items' must be a non-empty list of held-out items")
    try:
        gold = [float(it["gold"]) for it in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"results: every item needs a numeric 'gold' ({exc})") from None
    judges = results.get("judges")
    if not isinstance(judges, list) or not judges:
        raise ReportError("results: 'judges' must be a non-empty list")
    names = set()
    for j, judge in enumerate(judges):
        name = judge.get("name")
        if not name:
            raise ReportError(f"results: judge {j} has no 'name'")
        if name in names:
            raise ReportError(f"results: judge name {name!r} appears twice")
        names.add(name)
        preds = judge.get("predictions")
        if not isinstance(preds, list) or len(preds) != len(items):
            raise ReportError(
                f"results: judge {name!r}: 'predictions' must have one entry per item ({len(items)})"
            )
        rats = judge.get("rationales")
        if rats is not None and len(rats) != len(items):
            raise ReportError(f"results: judge {name!r}: 'rationales' must have one entry per item")
    return gold, list(judges)


def _judge(judges: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for judge in judges:
        if judge["name"] == name:
            return judge
    raise ReportError(f"results: no judge named {name!r} (have {[j['name'] for j in judges]})")


# ---- statistics ---------------------------------------------------------------------------------


def summarize(results: Mapping[str, Any], *, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The report JSON: per-judge metrics with CIs and confusion matrices, and paired differences."""
    gold, judges = _validate(results)
    gold_int = [int(round(x)) for x in gold]
    rows = []
    for judge in judges:
        preds = judge["predictions"]
        m = score_metrics(preds, gold, bootstrap=bootstrap, seed=seed)
        rows.append(
            {
                "name": judge["name"],
                "role": judge.get("role"),
                "iteration": judge.get("iteration"),
                "description": judge.get("description", ""),
                "metrics": m,
                "confusion_matrix": confusion_matrix(preds, gold_int),
                **({"extra": judge["extra"]} if "extra" in judge else {}),
            }
        )
    comparisons = []
    for pair in results.get("comparisons", []):
        a, b = pair
        diff = paired_bootstrap_diff(
            _judge(judges, a)["predictions"],
            _judge(judges, b)["predictions"],
            gold,
            n_resamples=max(bootstrap, 1),
            seed=seed,
        )
        comparisons.append({"a": a, "b": b, **diff})
    return {
        "title": results.get("title", "selfrat demo"),
        "n_items": len(gold),
        "bootstrap": bootstrap,
        "seed": seed,
        "judges": rows,
        "comparisons": comparisons,
        "extra_tables": results.get("extra_tables", {}),
        "meta": results.get("meta", {}),
    }


# ---- plots --------------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def plot_iteration_curve(summary: Mapping[str, Any]) -> str | None:
    """Pearson (95% CI) by iteration for the self-rationalization line; baselines as lines."""
    judges = summary["judges"]
    curve = sorted(
        (j for j in judges if j.get("iteration") is not None and j.get("role") in ("sft", "sre")),
        key=lambda j: j["iteration"],
    )
    if not curve:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    xs = [j["iteration"] for j in curve]
    ys = [j["metrics"]["pearson"] for j in curve]
    cis = [j["metrics"].get("ci", {}).get("pearson", [math.nan, math.nan]) for j in curve]
    lo = [y - c[0] if not math.isnan(c[0]) else 0 for y, c in zip(ys, cis, strict=True)]
    hi = [c[1] - y if not math.isnan(c[1]) else 0 for y, c in zip(ys, cis, strict=True)]
    ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=4, label="SFT seed -> self-rationalization")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, j in enumerate(x for x in judges if x.get("role") == "baseline"):
        ax.axhline(j["metrics"]["pearson"], linestyle="--", linewidth=1, color=palette[(k + 1) % len(palette)],
                   label=j["name"])
    ax.set_xticks(xs)
    ax.set_xticklabels([j["name"] for j in curve], rotation=0)
    ax.set_ylabel("held-out Pearson")
    ax.set_title("Pearson by iteration (95% bootstrap CI)")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_confusion_matrices(summary: Mapping[str, Any]) -> str:
    plt = _pyplot()
    judges = summary["judges"]
    cols = min(3, len(judges))
    rows = math.ceil(len(judges) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(judges):]:
        ax.axis("off")
    for ax, j in zip(axes.flat, judges, strict=False):  # more axes than judges
        mat = np.asarray(j["confusion_matrix"])
        ax.imshow(mat, cmap="Blues")
        for (r, c), v in np.ndenumerate(mat):
            ax.text(c, r, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > mat.max() / 2 else "black")
        levels = range(1, mat.shape[0] + 1)
        ax.set_xticks(range(mat.shape[0]), levels)
        ax.set_yticks(range(mat.shape[0]), levels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(j["name"], fontsize=9)
    fig.tight_layout()
    return _png(fig)


# ---- HTML ---------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;
margin:2px 0;font-size:12px}.sample{border:1px solid #ddd;padding:8px;margin:10px 0}.pos{color:#070}
.neg{color:#a00}"""


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else html.escape(str(x))


def _ci(m: Mapping[str, Any], name: str) -> str:
    ci = m.get("ci", {}).get(name)
    if not ci:
        return _fmt(m[name])
    return f"{_fmt(m[name])} <small>[{_fmt(ci[0])}, {_fmt(ci[1])}]</small>"


def _judge_table(summary: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("judge", "Pearson [95% CI]", "Spearman [95% CI]",
                                              "accuracy [95% CI]", "MAE", "parse rate", "n valid / n"))
    body = []
    for j in summary["judges"]:
        m = j["metrics"]
        cells = [html.escape(j["name"]), _ci(m, "pearson"), _ci(m, "spearman"), _ci(m, "accuracy"),
                 _fmt(m["mae"]), _fmt(m["parse_rate"]), f"{m['n_valid']} / {m['n']}"]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _comparison_table(summary: Mapping[str, Any]) -> str:
    if not summary["comparisons"]:
        return ""
    rows = []
    for c in summary["comparisons"]:
        above = not math.isnan(c["ci"][0]) and c["ci"][0] > 0
        cls = "pos" if above else "neg"
        rows.append(
            f"<tr><td>{html.escape(c['a'])} - {html.escape(c['b'])}</td><td class='{cls}'>{_fmt(c['diff'])}</td>"
            f"<td>[{_fmt(c['ci'][0])}, {_fmt(c['ci'][1])}]</td><td>{'yes' if above else 'no'}</td></tr>"
        )
    return (
        "<h2>Paired differences (Pearson)</h2><p>Paired bootstrap over held-out items "
        f"({summary['bootstrap']} resamples, seed {summary['seed']}).</p><table><tr><th>difference</th>"
        "<th>Pearson diff</th><th>95% CI</th><th>CI above 0</th></tr>" + "".join(rows) + "</table>"
    )


def _extra_tables(summary: Mapping[str, Any]) -> str:
    parts = []
    for caption, table in summary.get("extra_tables", {}).items():
        if not table:
            continue
        cols = sorted({k for row in table.values() for k in row})
        head = "<tr><th>judge</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
        body = "".join(
            "<tr><td>" + html.escape(name) + "</td>" + "".join(f"<td>{_fmt(row.get(c))}</td>" for c in cols) + "</tr>"
            for name, row in table.items()
        )
        parts.append(f"<h2>{html.escape(caption)}</h2><table>{head}{body}</table>")
    return "".join(parts)


def pick_samples(results: Mapping[str, Any], before: str, after: str, k: int = 3) -> list[dict[str, Any]]:
    """Up to ``k`` items, preferring ones the ``after`` judge gets right and ``before`` gets wrong."""
    gold, judges = _validate(results)
    jb, ja = _judge(judges, before), _judge(judges, after)
    if jb.get("rationales") is None or ja.get("rationales") is None:
        return []

    def right(p: Prediction, g: float) -> bool:
        return p is not None and round(p) == g

    order = sorted(
        range(len(gold)),
        key=lambda i: (not (right(ja["predictions"][i], gold[i]) and not right(jb["predictions"][i], gold[i])), i),
    )
    out = []
    for i in order[:k]:
        item = results["items"][i]
        out.append(
            {
                "id": item.get("id", str(i)),
                "instruction": item.get("instruction", ""),
                "response": item.get("response", ""),
                "gold": gold[i],
                "before": {"judge": before, "score": jb["predictions"][i], "rationale": jb["rationales"][i]},
                "after": {"judge": after, "score": ja["predictions"][i], "rationale": ja["rationales"][i]},
            }
        )
    return out


def _samples_html(samples: Sequence[Mapping[str, Any]]) -> str:
    if not samples:
        return ""
    parts = ["<h2>Sample rationales before and after</h2>"]
    for s in samples:
        parts.append(
            f"<div class='sample'><b>{html.escape(str(s['id']))}</b> (gold {_fmt(s['gold'], 0)})"
            f"<pre>{html.escape(s['instruction'])}</pre><pre>{html.escape(s['response'])}</pre>"
        )
        for side in ("before", "after"):
            j = s[side]
            score = "failed" if j["score"] is None else _fmt(float(j["score"]), 0)
            parts.append(f"<p><b>{side}: {html.escape(j['judge'])}</b> (score {score})</p>"
                         f"<pre>{html.escape(str(j['rationale']))}</pre>")
        parts.append("</div>")
    return "".join(parts)


def render_html(summary: Mapping[str, Any], samples: Sequence[Mapping[str, Any]]) -> str:
    curve = plot_iteration_curve(summary)
    cms = plot_confusion_matrices(summary)
    meta = summary.get("meta", {})
    meta_html = "".join(f"<li>{html.escape(str(k))}: {html.escape(json.dumps(v, default=str))}</li>"
                        for k, v in meta.items())
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(summary['title'])}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(summary['title'])}</h1>",
        f"<p>{summary['n_items']} held-out items. 95% CIs: percentile bootstrap ({summary['bootstrap']} "
        "resamples). Failed judgments count against the parse rate and are left out of the correlations.</p>",
        "<h2>Judges</h2>", _judge_table(summary), _comparison_table(summary),
    ]
    if curve:
        parts += ["<h2>Iteration curve</h2>", f"<img alt='iteration curve' src='data:image/png;base64,{curve}'>"]
    parts += ["<h2>Confusion matrices</h2>", f"<img alt='confusion matrices' src='data:image/png;base64,{cms}'>"]
    parts += [_extra_tables(summary), _samples_html(samples)]
    if meta_html:
        parts.append(f"<h2>Run</h2><ul>{meta_html}</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(
    results: Mapping[str, Any],
    out_dir: str | Path,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    n_samples: int = 3,
) -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    summary = summarize(results, bootstrap=bootstrap, seed=seed)
    before, after = results.get("before"), results.get("after")
    samples = pick_samples(results, before, after, n_samples) if before and after else []
    summary["samples"] = samples
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_html(summary, samples), encoding="utf-8")
    return {"json": json_path, "html": html_path}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
