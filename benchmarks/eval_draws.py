"""Held-out scores of every DPO draw of runs trained with ``validation.draws`` > 1, beside the
validation Pearsons the gate chose by: does picking the best draw on validation pick the best
draw on the held-out split, and what does the pick gain over the seed judge and over a single draw?

    python benchmarks/eval_draws.py runs/sre-draws/seed0 runs/sre-draws/seed1 --out draws.json

Each draw's model is judged greedily on the run's held-out split with the run's own config and
evaluation cache (``<draw folder>/heldout/greedy/results.json``; the draw the gate kept is a cache
hit of ``iter<t>/eval``). Differences are paired bootstraps over the held-out items
(:func:`selfrat_eval.metrics.paired_bootstrap_diff`), per run and pooled over the runs (items
matched by run and id, as ``paired_diff.py`` pools seeds).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import paired_bootstrap_diff


def draw_rows(run: Path) -> list[dict[str, Any]]:
    """One row per trained draw of every iteration of ``run``: validation and held-out results."""
    from selfrat_eval.protocols import StrategyConfig
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.evaluate import evaluate_judge
    from selfrat_eval.training.modeling import ModelRef
    from selfrat_eval.training.pipeline import dpo_draws, dpo_stage, iteration_counts

    cfg = TrainConfig.load(run / "config.yaml")
    stages = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]
    gate = json.loads((run / "curve.json").read_text(encoding="utf-8"))["validation_gate"][1:]
    rows = []
    for t in range(1, len(iteration_counts(cfg)) + 1):
        kept = next((g for g in gate if g["candidate"].split("/")[0] == f"iter{t}"), None)
        for draw, name in dpo_draws(cfg, t):
            stage = dpo_stage(name)
            if stage not in stages:
                continue
            folder = run / stage
            runs = evaluate_judge(cfg, ModelRef(stages[stage]["model"]), run / "data" / "heldout.jsonl",
                                  folder / "heldout", [StrategyConfig(name="greedy")])
            rows.append({
                "run": str(run), "iteration": t, "draw": draw, "name": name,
                "validation_pearson": stages[f"{name}/validation"]["pearson"],
                "heldout_pearson": runs["greedy"]["pearson"],
                "results": str(folder / "heldout" / "greedy" / "results.json"),
                "picked": kept is not None and kept["candidate"] == name,
                "kept_by_gate": bool(kept and kept["candidate"] == name and kept["kept"]),
            })
    return rows


def seed_row(run: Path) -> dict[str, Any]:
    stages = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]
    name = "sft" if "sft/validation" in stages else "base"
    results = run / name / "eval" / "greedy" / "results.json"
    return {"run": str(run), "name": name, "validation_pearson": stages[f"{name}/validation"]["pearson"],
            "heldout_pearson": json.loads(results.read_text(encoding="utf-8"))["metrics"]["pearson"],
            "results": str(results)}


def pooled_diff(targets: list[str], baselines: list[str], n_resamples: int) -> dict[str, Any]:
    """Paired bootstrap of target minus baseline over the items of every (target, baseline) pair of
    results files, matched by (pair index, item id)."""
    a: list[float | None] = []
    b: list[float | None] = []
    gold: list[float | None] = []
    for target, base in zip(targets, baselines, strict=True):
        ta, ba = run_predictions(Path(target)), run_predictions(Path(base))
        bp = dict(zip(ba["ids"], ba["pred"], strict=True))
        for i, p, g in zip(ta["ids"], ta["pred"], ta["gold"], strict=True):
            if i in bp:
                a.append(p)
                b.append(bp[i])
                gold.append(g)
    return paired_bootstrap_diff(a, b, gold, metric="pearson", n_resamples=n_resamples, seed=0)


def draw_agreement(draws: list[dict[str, Any]]) -> dict[str, Any]:
    """How a run's pick compares with one draw taken blindly, and whether validation orders the
    draws as the held-out split does."""
    from scipy.stats import kendalltau

    held = [x["heldout_pearson"] for x in draws]
    picked = next(x["heldout_pearson"] for x in draws if x["picked"])
    tau = kendalltau([x["validation_pearson"] for x in draws], held).statistic if len(draws) > 1 else None
    return {"n_draws": len(draws), "picked_minus_mean": picked - sum(held) / len(held),
            "spread": max(held) - min(held), "kendall_tau": None if tau is None or tau != tau else float(tau)}


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="training runs with validation.draws > 1")
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    seeds = {str(r): seed_row(r) for r in args.runs}
    rows = [row for r in args.runs for row in draw_rows(r)]
    print("| run | judge | validation Pearson | held-out Pearson | held-out minus seed [95% CI] | picked |")
    print("|---|---|---|---|---|---|")
    for run in args.runs:
        s = seeds[str(run)]
        print(f"| {run} | {s['name']} (seed) | {_f(s['validation_pearson'])} | {_f(s['heldout_pearson'])} | | |")
        for row in (r for r in rows if r["run"] == str(run)):
            d = pooled_diff([row["results"]], [s["results"]], args.bootstrap)
            row["minus_seed"] = {k: d[k] for k in ("diff", "ci", "n")}
            lo, hi = d["ci"]
            print(f"| {run} | {row['name']} (draw {row['draw']}) | {_f(row['validation_pearson'])} | "
                  f"{_f(row['heldout_pearson'])} | {d['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                  f"{'yes' + (', kept' if row['kept_by_gate'] else ', rejected') if row['picked'] else ''} |")
    pooled: dict[str, Any] = {}
    for t in sorted({r["iteration"] for r in rows}):
        it = [r for r in rows if r["iteration"] == t]
        runs = [str(r) for r in args.runs if any(x["run"] == str(r) for x in it)]
        picked = [next(x for x in it if x["run"] == r and x["picked"])["results"] for r in runs]
        base = [seeds[r]["results"] for r in runs]
        by_draw = {d: [next(x for x in it if x["run"] == r and x["draw"] == d)["results"] for r in runs]
                   for d in sorted({x["draw"] for x in it})}
        gated = [str(Path(r) / f"iter{t}" / "eval" / "greedy" / "results.json") for r in runs]
        comparisons = {"picked draw minus seed": (picked, base), "gate's judge (iter eval) minus seed": (gated, base)}
        comparisons |= {f"draw {d} minus seed": (files, base) for d, files in by_draw.items()}
        comparisons |= {f"picked draw minus draw {d}": (picked, files) for d, files in by_draw.items()}
        print(f"\nIteration {t}, pooled over {len(runs)} runs (paired bootstrap, {args.bootstrap} resamples):")
        for label, (ta, tb) in comparisons.items():
            d = pooled_diff(ta, tb, args.bootstrap)
            pooled[f"iter{t}: {label}"] = {k: d[k] for k in ("diff", "ci", "n", "pearson_a", "pearson_b")}
            print(f"- {label}: {d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] "
                  f"({d['pearson_a']:.3f} vs {d['pearson_b']:.3f}, n={d['n']})")
        ranked = [x for x in it if x["validation_pearson"] is not None and x["heldout_pearson"] is not None]
        best_heldout = sum(
            max((x for x in ranked if x["run"] == r), key=lambda x: x["heldout_pearson"])["picked"] for r in runs
        )
        print(f"- validation picked the best held-out draw in {best_heldout} of {len(runs)} runs")
        pooled[f"iter{t}: runs where the pick is the best held-out draw"] = best_heldout
        per_run = {r: draw_agreement([x for x in ranked if x["run"] == r]) for r in runs}
        for r, a in per_run.items():
            print(f"- {r}: picked draw's held-out Pearson minus the mean over its {a['n_draws']} draws (what one "
                  f"draw gives on average) {a['picked_minus_mean']:+.3f}; draws' spread {a['spread']:.3f}; "
                  f"Kendall tau of validation vs held-out Pearson over the draws {_f(a['kendall_tau'])}")
        pooled[f"iter{t}: per run"] = per_run

    if args.out:
        args.out.write_text(json.dumps({"seeds": seeds, "draws": rows, "pooled": pooled}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
