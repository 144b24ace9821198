"""Demo comparison report: one self-contained HTML page (plots embedded as base64 PNG) plus JSON.

Input: the comparison rows of a demo, each a judge with the ``results.json`` of its greedy run and
(optionally) of its expected-score run, written by the native runner (:mod:`selfrat_eval.results`)::

    [{"name": "SRE iter 2", "judge": "iter2", "iteration": 2,
      "greedy": "OUT/iter2/eval/greedy/results.json",
      "expected": "OUT/iter2/eval/expected-score/results.json"}, ...]

Per-judge metrics and their CIs are read from the results files (the protocol computed them); the
report adds paired bootstrap differences of Pearson on the same held-out items (the target judge
minus each baseline, for greedy and for expected-score judging; each judge's expected-score run
minus its greedy run), confusion matrices, a calibration plot (mean gold score per expected-score
bin) and sample rationales before/after. Failed judgments (``None``) count against the parse rate
and are left out of the correlations.
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

from ..metrics import confusion_matrix, paired_bootstrap_diff

Prediction = float | None
VARIANTS = ("greedy", "expected")
VARIANT_TITLES = {"greedy": "greedy", "expected": "expected-score"}
HEADLINE = ("pearson", "spearman", "kendall", "accuracy", "mae", "parse_rate")


class ReportError(ValueError):
    """The inputs are malformed; the message names the judge and the file."""


# ---- statistics ---------------------------------------------------------------------------------


def run_predictions(path: str | Path) -> dict[str, Any]:
    """Per-item ids, predictions, gold scores and deciding judgment texts of one pointwise run,
    plus its metrics, CIs and strategy label; ``top_prob`` is each item's probability of its most
    likely score token (expected-score runs; None where the run has no score distribution)."""
    from ..results import load_results

    try:
        run = load_results(path)
    except (FileNotFoundError, ValueError) as exc:
        raise ReportError(str(exc)) from None
    ids, pred, gold, texts = [], [], [], []
    top_prob: list[float | None] = []
    for item in run["items"]:
        res = item["result"]
        if "pred" not in res:
            raise ReportError(f"{path}: not a pointwise run (item {item['id']} has no 'pred')")
        ids.append(str(item["id"]))
        pred.append(None if res.get("pred") is None else float(res["pred"]))
        gold.append(None if res.get("gold") is None else float(res["gold"]))
        req = next(iter(item["requests"].values()), {})
        draws = req.get("draws") or [{}]
        decision = req.get("decision") or {}
        sel = decision.get("selected")
        texts.append(str(draws[sel if isinstance(sel, int) and sel < len(draws) else 0].get("text", "")))
        probs = decision.get("probs")
        top_prob.append(max(probs.values()) if probs else None)
    return {"path": str(path), "strategy": run["strategy"], "metrics": run["metrics"], "ci": run.get("ci", {}),
            "ids": ids, "pred": pred, "gold": gold, "texts": texts, "top_prob": top_prob}


def load_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their runs read (``row[variant]`` becomes the run's predictions); every run
    must cover the same items in the same order."""
    out, ids = [], None
    for row in rows:
        loaded = {k: v for k, v in row.items() if k not in VARIANTS}
        for variant in VARIANTS:
            if row.get(variant) is None:
                loaded[variant] = None
                continue
            run = run_predictions(row[variant])
            if ids is None:
                ids = run["ids"]
            elif run["ids"] != ids:
                raise ReportError(f"judge {row['name']!r}: {row[variant]} covers other items than the first run")
            loaded[variant] = run
        if loaded["greedy"] is None:
            raise ReportError(f"judge {row['name']!r}: no greedy run")
        out.append(loaded)
    if not out:
        raise ReportError("no judges to report")
    return out


def comparable(row: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """A judge's run for a variant; a judge without an expected-score run (best-of-N) is compared
    with its only (greedy) run."""
    return row[variant] if row.get(variant) is not None else row["greedy"]


# ---- summary ------------------------------------------------------------------------------------


def build_summary(
    rows: Sequence[Mapping[str, Any]],
    *,
    target: str,
    baselines: Sequence[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    items: Mapping[str, Mapping[str, str]] | None = None,
    extra_tables: Mapping[str, Any] | None = None,
    title: str = "selfrat demo",
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report JSON: every judge's two runs, paired differences, calibration, samples."""
    from ..runner.report import calibration_points

    loaded = load_rows(rows)
    by_name = {r["name"]: r for r in loaded}
    if target not in by_name:
        raise ReportError(f"no judge named {target!r} (have {list(by_name)})")
    baselines = [b for b in (baselines if baselines is not None else by_name) if b != target]
    for b in baselines:
        if b not in by_name:
            raise ReportError(f"no judge named {b!r} (have {list(by_name)})")
    gold = loaded[0]["greedy"]["gold"]
    judges = []
    for r in loaded:
        entry: dict[str, Any] = {"name": r["name"], "judge": r.get("judge"), "iteration": r.get("iteration")}
        for variant in VARIANTS:
            run = r[variant]
            if run is None:
                entry[variant] = None
                continue
            g_int = [int(round(g)) for g in run["gold"] if g is not None]
            entry[variant] = {
                "strategy": run["strategy"],
                "results": run["path"],
                "metrics": {k: run["metrics"].get(k) for k in (*HEADLINE, "n", "n_valid", "n_failed")},
                "ci": run["ci"],
                "confusion_matrix": confusion_matrix([p for p, g in zip(run["pred"], run["gold"], strict=True) if g is not None], g_int),
            }
        if r["expected"] is not None:
            entry["expected_minus_greedy"] = paired_bootstrap_diff(
                r["expected"]["pred"], r["greedy"]["pred"], gold, n_resamples=max(bootstrap, 1), seed=seed
            )
            entry["calibration"] = [list(p) for p in calibration_points(r["expected"]["pred"], gold)]
        judges.append(entry)
    comparisons = []
    for variant in VARIANTS:
        for b in baselines:
            a_run, b_run = comparable(by_name[target], variant), comparable(by_name[b], variant)
            d = paired_bootstrap_diff(a_run["pred"], b_run["pred"], gold, n_resamples=max(bootstrap, 1), seed=seed)
            comparisons.append({"variant": variant, "a": target, "b": b, "a_strategy": a_run["strategy"],
                                "b_strategy": b_run["strategy"], **d})
    before = next((r for r in loaded if r.get("iteration") == 0), loaded[0])
    return {
        "title": title,
        "n_items": len(gold),
        "bootstrap": bootstrap,
        "seed": seed,
        "target": target,
        "judges": judges,
        "comparisons": comparisons,
        "samples": pick_samples(loaded, before["name"], target, items=items),
        "extra_tables": dict(extra_tables or {}),
        "meta": dict(meta or {}),
    }


def pick_samples(
    loaded: Sequence[Mapping[str, Any]], before: str, after: str, k: int = 3,
    items: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``k`` items, preferring ones the ``after`` judge (greedy) gets right and ``before`` wrong."""
    by_name = {r["name"]: r for r in loaded}
    jb, ja = by_name[before]["greedy"], by_name[after]["greedy"]
    gold = ja["gold"]

    def right(p: Prediction, g: float | None) -> bool:
        return p is not None and g is not None and round(p) == g

    order = sorted(range(len(gold)), key=lambda i: (not (right(ja["pred"][i], gold[i]) and not right(jb["pred"][i], gold[i])), i))
    out = []
    for i in order[:k]:
        text = (items or {}).get(ja["ids"][i], {})
        out.append({
            "id": ja["ids"][i],
            "instruction": text.get("instruction", ""),
            "response": text.get("response", ""),
            "gold": gold[i],
            "before": {"judge": before, "score": jb["pred"][i], "rationale": jb["texts"][i]},
            "after": {"judge": after, "score": ja["pred"][i], "rationale": ja["texts"][i]},
        })
    return out


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


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def plot_iteration_curve(summary: Mapping[str, Any]) -> str | None:
    """Pearson (95% CI) by iteration, greedy and expected-score lines; baselines as dashed lines."""
    curve = sorted((j for j in summary["judges"] if j.get("iteration") is not None), key=lambda j: j["iteration"])
    if not curve:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    xs = [j["iteration"] for j in curve]
    for variant, marker in (("greedy", "o"), ("expected", "s")):
        pts = [(x, j[variant]) for x, j in zip(xs, curve, strict=True) if j.get(variant)]
        if not pts:
            continue
        ys = [_num(r["metrics"]["pearson"]) for _, r in pts]
        cis = [r["ci"].get("pearson") or [None, None] for _, r in pts]
        lo = [y - _num(c[0]) if c[0] is not None else 0 for y, c in zip(ys, cis, strict=True)]
        hi = [_num(c[1]) - y if c[1] is not None else 0 for y, c in zip(ys, cis, strict=True)]
        ax.errorbar([x for x, _ in pts], ys, yerr=[lo, hi], marker=marker, capsize=4, label=f"SFT -> SRE ({VARIANT_TITLES[variant]})")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, j in enumerate(x for x in summary["judges"] if x.get("iteration") is None):
        for variant, style in (("greedy", "--"), ("expected", ":")):
            if j.get(variant):
                ax.axhline(_num(j[variant]["metrics"]["pearson"]), linestyle=style, linewidth=1,
                           color=palette[(k + 2) % len(palette)], label=f"{j['name']} ({VARIANT_TITLES[variant]})")
    ax.set_xticks(xs)
    ax.set_xticklabels([j["name"] for j in curve])
    ax.set_ylabel("held-out Pearson")
    ax.set_title("Pearson by iteration (95% bootstrap CI)")
    ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_calibration(summary: Mapping[str, Any]) -> str | None:
    """Mean gold score per expected-score bin, one line per judge, against the diagonal."""
    series = [(j["name"], j["calibration"]) for j in summary["judges"] if j.get("calibration")]
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    ax.plot([1, 5], [1, 5], color="gray", linewidth=0.8, linestyle="--", label="perfect")
    for name, points in series:
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xlabel("expected score (bin mean)")
    ax.set_ylabel("mean gold score")
    ax.set_title("Calibration of expected-score judging")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_confusion_matrices(summary: Mapping[str, Any]) -> str:
    plt = _pyplot()
    judges = [(j["name"], j["greedy"]["confusion_matrix"]) for j in summary["judges"]]
    cols = min(3, len(judges))
    rows = math.ceil(len(judges) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(judges):]:
        ax.axis("off")
    for ax, (name, cm) in zip(axes.flat, judges, strict=False):  # more axes than judges
        mat = np.asarray(cm)
        ax.imshow(mat, cmap="Blues")
        for (r, c), v in np.ndenumerate(mat):
            ax.text(c, r, str(v), ha="center", va="center", fontsize=8, color="white" if v > mat.max() / 2 else "black")
        levels = range(1, mat.shape[0] + 1)
        ax.set_xticks(range(mat.shape[0]), levels)
        ax.set_yticks(range(mat.shape[0]), levels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{name} (greedy)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


# ---- HTML ---------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;
margin:2px 0;font-size:12px}.sample{border:1px solid #ddd;padding:8px;margin:10px 0}.pos{color:#070}
.neg{color:#a00}"""


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else html.escape(str(x))


def _with_ci(value: Any, ci: Any) -> str:
    if not ci or ci[0] is None:
        return _fmt(value)
    return f"{_fmt(value)} <small>[{_fmt(ci[0])}, {_fmt(ci[1])}]</small>"


def _judge_table(summary: Mapping[str, Any]) -> str:
    head = ["judge"]
    for variant in VARIANTS:
        t = VARIANT_TITLES[variant]
        head += [f"{t}: strategy", f"{t}: Pearson [95% CI]", f"{t}: Spearman", f"{t}: accuracy", f"{t}: MAE", f"{t}: parse rate"]
    head.append("expected - greedy Pearson [95% CI]")
    body = []
    for j in summary["judges"]:
        cells = [html.escape(j["name"])]
        for variant in VARIANTS:
            run = j.get(variant)
            if run is None:
                cells += ["-"] * 6
                continue
            m = run["metrics"]
            cells += [html.escape(run["strategy"]), _with_ci(m.get("pearson"), run["ci"].get("pearson")), _fmt(m.get("spearman")),
                      _fmt(m.get("accuracy")), _fmt(m.get("mae")), _fmt(m.get("parse_rate"))]
        d = j.get("expected_minus_greedy")
        cells.append(_with_ci(d["diff"], d["ci"]) if d else "-")
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(body) + "</table>"


def _comparison_table(summary: Mapping[str, Any]) -> str:
    if not summary["comparisons"]:
        return ""
    rows = []
    for c in summary["comparisons"]:
        above = c["ci"][0] is not None and not math.isnan(c["ci"][0]) and c["ci"][0] > 0
        rows.append(
            f"<tr><td>{VARIANT_TITLES[c['variant']]}</td><td>{html.escape(c['a'])} ({html.escape(c['a_strategy'])}) - "
            f"{html.escape(c['b'])} ({html.escape(c['b_strategy'])})</td><td class='{'pos' if above else 'neg'}'>{_fmt(c['diff'])}</td>"
            f"<td>[{_fmt(c['ci'][0])}, {_fmt(c['ci'][1])}]</td><td>{'yes' if above else 'no'}</td></tr>"
        )
    return (
        "<h2>Paired differences (Pearson)</h2><p>Same held-out items for both judges, paired percentile bootstrap "
        f"({summary['bootstrap']} resamples, seed {summary['seed']}). A judge without an expected-score run "
        "(best-of-N) is compared with its only run.</p><table><tr><th>judging</th><th>difference</th>"
        "<th>Pearson diff</th><th>95% CI</th><th>CI above 0</th></tr>" + "".join(rows) + "</table>"
    )


def _curation_table(summary: Mapping[str, Any]) -> str:
    stages = summary.get("meta", {}).get("train_stages", {})
    rows = []
    for name in sorted(k for k in stages if k.endswith("/curation")):
        it = name.split("/")[0]
        st, smp = stages[name].get("stats", {}), stages.get(f"{it}/sampling", {})
        rows.append(
            f"<tr><td>{it}</td><td>{st.get('n_inputs')}</td><td>{st.get('n_samples')}</td><td>{_fmt(st.get('parse_rate'))}</td>"
            f"<td>{smp.get('n_inputs_resampled', 0)} ({smp.get('n_extra_samples', 0)})</td><td>{smp.get('n_inputs_rescued', 0)}</td>"
            f"<td>{st.get('n_pairs_before_balance')}</td><td>{st.get('n_pairs')}</td>"
            f"<td>{html.escape(json.dumps(st.get('pairs_by_label_before_balance')))} -> {html.escape(json.dumps(st.get('pairs_by_label')))}</td>"
            f"<td>{st.get('n_inputs_without_pairs')} {html.escape(json.dumps(st.get('inputs_without_pairs')))}</td></tr>"
        )
    rs = stages.get("rs_sft")
    note = ""
    if rs:
        note = (f"<p>RS-SFT: {rs.get('n_examples')} SFT examples after label balancing (before: "
                f"{rs.get('n_examples_before_balance')}, by label {html.escape(json.dumps(rs.get('examples_by_label')))}).</p>")
    if not rows:
        return note
    head = ("<tr><th>iteration</th><th>inputs</th><th>samples</th><th>parse rate</th><th>re-sampled inputs (extra samples)</th>"
            "<th>rescued</th><th>pairs before balance</th><th>pairs after</th><th>by label</th><th>inputs without pairs</th></tr>")
    return "<h2>Curation</h2><table>" + head + "".join(rows) + "</table>" + note


def _extra_tables(summary: Mapping[str, Any]) -> str:
    parts = []
    for caption, table in summary.get("extra_tables", {}).items():
        if not table:
            continue
        cols = sorted({k for row in table.values() for k in row if k != "results"})
        head = "<tr><th>judge</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
        body = "".join(
            "<tr><td>" + html.escape(name) + "</td>" + "".join(f"<td>{_fmt(row.get(c))}</td>" for c in cols) + "</tr>"
            for name, row in table.items()
        )
        parts.append(f"<h2>{html.escape(caption)}</h2><table>{head}{body}</table>")
    return "".join(parts)


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


def render_html(summary: Mapping[str, Any]) -> str:
    curve = plot_iteration_curve(summary)
    calibration = plot_calibration(summary)
    cms = plot_confusion_matrices(summary)
    meta = {k: v for k, v in summary.get("meta", {}).items() if k != "train_stages"}
    meta_html = "".join(f"<li>{html.escape(str(k))}: {html.escape(json.dumps(v, default=str))}</li>" for k, v in meta.items())
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(summary['title'])}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(summary['title'])}</h1>",
        f"<p>{summary['n_items']} held-out items. Every judge is judged greedily and with expected-score judging "
        "(the probability-weighted mean of the score after its greedy rationale's [RESULT]); self-consistency's "
        "continuous variant is the mean of its samples. Per-judge numbers come from each run's results.json "
        "(95% percentile bootstrap CIs). Failed judgments count against the parse rate and are left out of the "
        "correlations.</p>",
        "<h2>Judges: greedy and expected-score side by side</h2>", _judge_table(summary), _comparison_table(summary),
    ]
    if curve:
        parts += ["<h2>Iteration curve</h2>", f"<img alt='iteration curve' src='data:image/png;base64,{curve}'>"]
    if calibration:
        parts += ["<h2>Calibration</h2><p>Mean gold score per expected-score bin (8 equal-width bins of each "
                  "judge's expected scores); the dashed diagonal is perfect calibration.</p>",
                  f"<img alt='calibration' src='data:image/png;base64,{calibration}'>"]
    parts += ["<h2>Confusion matrices</h2>", f"<img alt='confusion matrices' src='data:image/png;base64,{cms}'>"]
    parts += [_curation_table(summary), _extra_tables(summary), _samples_html(summary.get("samples", []))]
    if meta_html:
        parts.append(f"<h2>Run</h2><ul>{meta_html}</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_html(summary), encoding="utf-8")
    return {"json": json_path, "html": html_path}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
