"""Probe (issue 11): an expected score read from the judge's verdicts inside its rationale, not
from the score token after ``[RESULT]``.

The running-count judges of the demo write one verdict per constraint and then the score
("... (met, 1 so far). ... 1 of 4 met, so the score is 2. [RESULT] 2"). The score token after the
marker copies the count sentence (top probability > 0.9997), so the protocol's expected-score
judging equals greedy judging for them. Their uncertainty sits in the verdicts: at each ``" ("``
before a verdict the judge chooses between ``met`` and ``violated``. This probe teacher-forces
each greedy judgment and reads, at every verdict, p(met) = P(met) / (P(met) + P(violated)) from the
backend's ``next_token_logprobs`` (the call expected-score judging uses). With the synthetic
rubric's mapping (score = met constraints + 1, four constraints per item) the expected score is
``1 + sum of p(met)``: linear in the verdicts, so independence between them is not assumed.

A judgment whose verdict count is not the rubric's (four), or whose verdict tokens fall outside
the top-k at some verdict, is counted and left out (no default score); so are unparsed ones.

    .venv-vllm/bin/python benchmarks/probe_verdict_marginal.py --out runs/probe-verdicts/seed0 \
        --judge "SFT seed=runs/sre-3seed/seed0/sft/eval/greedy/results.json" \
        --judge "SRE iter 2=runs/sre-3seed/seed0/iter2/eval/greedy/results.json"
    .venv-vllm/bin/python benchmarks/probe_verdict_marginal.py --out runs/probe-verdicts/seed0 \
        --curve runs/sre-3seed/seed0/curve.json      # every greedy judge of a training run, each model once

Writes ``OUT/verdict_marginal.json`` (per judge: greedy and verdict-marginal Pearson with the
paired bootstrap of the difference on the same items, counts, per-item predictions) and
``OUT/verdict_marginal.md``.

Seeds probed one at a time pool as ``bench_sre_effect.py`` pools them (items of all seeds
concatenated, paired bootstrap over items); a judge standing for several names (``iter1 = iter2``)
joins each name's pool:

    python benchmarks/probe_verdict_marginal.py --out runs/probe-pool --target iter2 \
        --pool benchmarks/records/sre-3seed-it2/probe-verdicts-seed{0,1,2}.json

writes ``OUT/verdict_marginal_pooled.{json,md}``: per judge, verdict-marginal minus greedy; and the
target judge minus every other one, both read from the verdicts.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from selfrat_eval.generation.factory import BackendConfig, build_backend, release_backend, vllm_available
from selfrat_eval.metrics import paired_bootstrap_diff, pearson
from selfrat_eval.protocols import get_protocol
from selfrat_eval.protocols.base import BenchmarkOptions
from selfrat_eval.protocols.expected import token_verdict

VERDICT = re.compile(r" \((met|violated)\b")
WORDS = ("met", "violated")
N_CONSTRAINTS = 4  # the synthetic rubric: "exactly k of the four constraints" -> score k + 1


def verdict_prefixes(text: str) -> list[str]:
    """The judgment up to and including each verdict's ``" ("`` (where the verdict is chosen)."""
    return [text[: m.start() + 2] for m in VERDICT.finditer(text)]


def p_met(top: dict[str, float]) -> float | None:
    """P(met) / (P(met) + P(violated)) from a top-k next-token distribution; a token counts for a
    word it starts (``"viol"`` for ``violated``). None when neither word is in the top-k."""
    mass = dict.fromkeys(WORDS, 0.0)
    for token, lp in top.items():
        tok = token_verdict(token).lower()  # the protocol's token normalisation (whitespace, brackets, width)
        if not tok or lp is None or math.isnan(lp):
            continue
        for word in WORDS:
            if word.startswith(tok):
                mass[word] += math.exp(lp)
    total = mass["met"] + mass["violated"]
    return mass["met"] / total if total > 0 else None


def judge_predictions(backend: Any, prompts: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict-marginal predictions of one judge's greedy judgments (``items`` of its results.json)."""
    queries: list[tuple[int, Any, str]] = []
    outcome: dict[int, str] = {}
    draws = [it["requests"]["score"]["draws"][0] for it in items]
    for i, (it, draw) in enumerate(zip(items, draws, strict=True)):
        if draw["value"] is None:
            outcome[i] = "unparsed"
            continue
        prefixes = verdict_prefixes(draw["text"])
        if len(prefixes) != N_CONSTRAINTS:
            outcome[i] = "verdict_count"
            continue
        queries += [(i, prompts[it["id"]], p) for p in prefixes]
    tops = backend.next_token_logprobs([q[1] for q in queries], [q[2] for q in queries]) if queries else []
    per_item: dict[int, list[float | None]] = {}
    for (i, _, _), top in zip(queries, tops, strict=True):
        per_item.setdefault(i, []).append(p_met(top))
    rows = []
    for i, (it, draw) in enumerate(zip(items, draws, strict=True)):
        probs = per_item.get(i)
        if probs is not None and any(p is None for p in probs):
            outcome[i] = "verdict_outside_top_k"
        expected = 1.0 + sum(probs) if i not in outcome and probs else None
        rows.append({"id": it["id"], "gold": it["result"]["gold"], "greedy": draw["value"], "expected": expected,
                     "p_met": probs, "outcome": outcome.get(i, "read")})
    return {"rows": rows}


def summarize(name: str, rows: list[dict[str, Any]], n_resamples: int) -> dict[str, Any]:
    read = [r for r in rows if r["outcome"] == "read"]
    counts = dict(Counter(r["outcome"] for r in rows))
    gold = [r["gold"] for r in read]
    greedy = [float(r["greedy"]) for r in read]
    expected = [r["expected"] for r in read]
    diff = paired_bootstrap_diff(expected, greedy, gold, n_resamples=n_resamples, seed=0)
    probs = [p for r in read for p in r["p_met"]]
    return {
        "judge": name,
        "n": len(rows),
        "outcomes": counts,
        "greedy_pearson_all": pearson([float(r["greedy"]) if r["greedy"] is not None else math.nan for r in rows],
                                      [r["gold"] for r in rows]),
        "greedy_pearson": diff["pearson_b"],
        "expected_pearson": diff["pearson_a"],
        "diff": diff["diff"],
        "ci": diff["ci"],
        "p_not_greater": diff.get("p_not_greater"),
        "verdicts_below_0.99_confidence": sum(1 for p in probs if 0.01 < p < 0.99),
        "n_verdicts": len(probs),
    }


def curve_judges(path: Path) -> list[tuple[str, str]]:
    """(name, results.json) of every greedy held-out evaluation in a run's ``curve.json``; a model that
    stands for several judges (an iteration the gate did not replace) is judged once, under all
    its names (``iter1 = iter2``)."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for entry in json.loads(path.read_text(encoding="utf-8"))["curve"]:
        if entry.get("strategy") == "greedy":
            by_model.setdefault(entry["model"], []).append(entry)
    return [(" = ".join(e["judge"] for e in entries), entries[0]["results"]) for entries in by_model.values()]


def pooled_rows(reports: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per judge name, its rows over every report (seed), each tagged with the report's index; a
    judge named ``a = b`` joins the pools of ``a`` and of ``b``."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for k, report in enumerate(reports):
        for name, rows in report["predictions"].items():
            for part in name.split(" = "):
                pools.setdefault(part.strip(), []).extend({**r, "source": k} for r in rows)
    return pools


def read_report(path: Path) -> dict[str, Any]:
    """A per-seed ``verdict_marginal.json``; a clear error for a file that is not one."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read a probe report ({exc})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("predictions"), dict):
        raise SystemExit(f"{path}: not a verdict_marginal.json (no per-judge 'predictions'); pool the probe's own output")
    return report


def pool(reports: list[dict[str, Any]], *, target: str | None, n_resamples: int) -> dict[str, Any]:
    """Per-judge verdict-marginal minus greedy over the concatenated seeds, and ``target`` minus
    every other judge (verdict-marginal both), each on items aligned by (seed, id). A judge's
    unread items are left out of its own Pearson (as in :func:`paired_bootstrap_diff`)."""
    pools = pooled_rows(reports)
    if target is not None and target not in pools:
        raise SystemExit(f"--target {target!r} is not a judge of the pooled reports ({', '.join(pools)})")
    out: dict[str, Any] = {"n_reports": len(reports), "judges": [summarize(name, rows, n_resamples) for name, rows in pools.items()],
                           "pooling": "items of all reports concatenated, aligned by (report, id); bootstrap over items"}
    if target is not None:
        by_key = {name: {(r["source"], r["id"]): r for r in rows} for name, rows in pools.items()}
        keys = sorted(by_key[target])
        gold = [by_key[target][key]["gold"] for key in keys]
        out["target"], out["target_minus"] = target, []
        for name in pools:
            if name == target:
                continue
            other = [by_key[name].get(key) for key in keys]
            if any(r is None for r in other):
                raise SystemExit(f"judges {target!r} and {name!r} were probed on different items")
            diff = paired_bootstrap_diff([by_key[target][key]["expected"] for key in keys],
                                         [r["expected"] for r in other], gold, n_resamples=n_resamples, seed=0)
            out["target_minus"].append({"judge": name, "target_pearson": diff["pearson_a"], "pearson": diff["pearson_b"],
                                        "diff": diff["diff"], "ci": diff["ci"], "p_not_greater": diff.get("p_not_greater")})
    return out


def judges_table(summaries: list[dict[str, Any]], *, confidence: bool) -> list[str]:
    """Markdown rows of :func:`summarize` results (``confidence``: the verdicts-below-0.99 column)."""
    extra = " verdicts with 0.01 < p(met) < 0.99 |" if confidence else ""
    lines = ["| judge | items read | greedy Pearson | verdict-marginal expected | difference [95% CI] |" + extra,
             "|---|---|---|---|---|" + ("---|" if confidence else "")]
    for s in summaries:
        row = (f"| {s['judge']} | {s['outcomes'].get('read', 0)} / {s['n']} | {s['greedy_pearson']:.3f} | "
               f"{s['expected_pearson']:.3f} | {s['diff']:+.3f} [{s['ci'][0]:+.3f}, {s['ci'][1]:+.3f}] |")
        lines.append(row + (f" {s['verdicts_below_0.99_confidence']} / {s['n_verdicts']} |" if confidence else ""))
    return lines


def pooled_markdown(pooled: dict[str, Any]) -> str:
    lines = [f"{pooled['n_reports']} reports pooled ({pooled['pooling']}).", "",
             *judges_table(pooled["judges"], confidence=False)]
    if pooled.get("target_minus"):
        lines += ["", f"| {pooled['target']} minus (verdict-marginal both) | {pooled['target']} | other | difference [95% CI] |",
                  "|---|---|---|---|"]
        for d in pooled["target_minus"]:
            lines.append(f"| {d['judge']} | {d['target_pearson']:.3f} | {d['pearson']:.3f} | "
                         f"{d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--judge", action="append", default=[], metavar="NAME=RESULTS_JSON",
                    help="a judge's greedy feedback_bench results.json (its model and held-out file are read from it)")
    ap.add_argument("--curve", type=Path, default=None, help="a training run's curve.json: every greedy judge of it")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--backend", default=None, help="vllm where importable, else hf")
    ap.add_argument("--dtype", default="float32", help="float32: bf16 logits move p(met) in steps of ~0.1")
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--limit", type=int, default=None, help="first N items per judge (a smoke run)")
    ap.add_argument("--pool", type=Path, nargs="+", default=None, metavar="VERDICT_MARGINAL_JSON",
                    help="pool earlier runs of this probe (one per seed) instead of probing")
    ap.add_argument("--target", default=None, help="with --pool: the judge compared with every other (e.g. iter2)")
    args = ap.parse_args(argv)
    if args.pool:
        if args.judge or args.curve:
            ap.error("--pool reads earlier probes; it takes no --judge/--curve")
        pooled = pool([read_report(p) for p in args.pool], target=args.target, n_resamples=args.bootstrap)
        pooled["reports"] = [str(p) for p in args.pool]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "verdict_marginal_pooled.json").write_text(json.dumps(pooled, indent=1))
        text = pooled_markdown(pooled)
        (args.out / "verdict_marginal_pooled.md").write_text(text)
        print(text)
        return 0
    specs = [spec.partition("=")[::2] for spec in args.judge] + (curve_judges(args.curve) if args.curve else [])
    if not specs:
        ap.error("name a judge (--judge) or a run (--curve)")
    if any(not name or not path for name, path in specs):
        ap.error("--judge takes NAME=RESULTS_JSON")
    backend_name = args.backend or ("vllm" if vllm_available() else "hf")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"backend": backend_name, "dtype": args.dtype, "judges": []}
    predictions: dict[str, Any] = {}
    for name, path in specs:
        res = json.loads(Path(path).read_text(encoding="utf-8"))
        if res["benchmark"] != "feedback_bench" or res["strategy"] != "greedy":
            raise SystemExit(f"{path}: a greedy feedback_bench run is needed")
        options = res["config"]["options"]
        protocol = get_protocol("feedback_bench", BenchmarkOptions(data=options["data"], split=options.get("split")))
        prompts = {item.id: protocol.requests(item)[0].prompt.messages() for item in protocol.load().items}
        backend = build_backend(res["config"]["judge"], BackendConfig(name=backend_name, dtype=args.dtype, device="cpu"))
        try:
            out = judge_predictions(backend, prompts, res["items"][: args.limit])
        finally:
            release_backend(backend)
            del backend
            gc.collect()
        summary = summarize(name, out["rows"], args.bootstrap)
        summary["results"] = path
        report["judges"].append(summary)
        predictions[name] = out["rows"]
        print(json.dumps({k: v for k, v in summary.items() if k != "results"}), flush=True)
    (args.out / "verdict_marginal.json").write_text(json.dumps({**report, "predictions": predictions}, indent=1))
    text = "\n".join(judges_table(report["judges"], confidence=True)) + "\n"
    (args.out / "verdict_marginal.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
