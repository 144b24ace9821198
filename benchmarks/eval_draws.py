"""Held-out scores of every DPO draw of runs trained with ``validation.draws`` > 1, beside the
validation Pearsons the gate chose by: does picking the best draw on validation pick the best
draw on the held-out split, and what does the pick gain over the seed judge and over a single draw?

    python benchmarks/eval_draws.py runs/sre-draws/seed0 runs/sre-draws/seed1 --out draws.json
    python benchmarks/eval_draws.py runs/sre-draws6/seed0 --soup   # also the draws' weight average

Each draw's model is judged greedily on the run's held-out split with the run's own config and
evaluation cache (``<draw folder>/heldout/greedy/results.json``; the draw the gate kept is a cache
hit of ``iter<t>/eval``). Differences are paired bootstraps over the held-out items
(:func:`selfrat_eval.metrics.paired_bootstrap_diff`), per run and pooled over the runs (items
matched by run and id, as ``paired_diff.py`` pools seeds). Each row also gives the mean and standard
deviation of the draw's predicted scores beside the gold ones: a draw that shifts every verdict up
(or down) narrows the range its scores use, and its Pearson drops with it.

``--soup`` also averages each iteration's draws weight by weight (a uniform "model soup",
``iter<t>/dpo-soup/model``) and judges the average on the validation and held-out splits: if the
draws differ by training noise around a shared useful direction, the average keeps the direction
and cancels the noise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import paired_bootstrap_diff

SOUP = "dpo-soup"  # iter<t>/dpo-soup: the weight average of the iteration's draws


def _stages(run: Path) -> dict[str, Any]:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]


def _judge_greedy(cfg: Any, run: Path, model: str, split: str, folder: Path) -> tuple[float | None, Path]:
    """``model`` judged greedily on ``run``'s ``split`` file with the run's config ``cfg`` and
    evaluation cache, into ``folder/<split>``: its Pearson and its ``results.json``."""
    from selfrat_eval.protocols import StrategyConfig
    from selfrat_eval.training.evaluate import evaluate_judge
    from selfrat_eval.training.modeling import ModelRef

    runs = evaluate_judge(cfg, ModelRef(model), run / "data" / f"{split}.jsonl", folder / split,
                          [StrategyConfig(name="greedy")])
    return runs["greedy"]["pearson"], Path(runs["greedy"]["results"])


def draw_rows(run: Path) -> list[dict[str, Any]]:
    """One row per trained draw of every iteration of ``run``: validation and held-out results."""
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.pipeline import dpo_draws, dpo_stage, iteration_counts

    cfg = TrainConfig.load(run / "config.yaml")
    stages = _stages(run)
    gate = json.loads((run / "curve.json").read_text(encoding="utf-8"))["validation_gate"][1:]
    rows = []
    for t in range(1, len(iteration_counts(cfg)) + 1):
        kept = next((g for g in gate if g["candidate"].split("/")[0] == f"iter{t}"), None)
        for draw, name in dpo_draws(cfg, t):
            stage = dpo_stage(name)
            if stage not in stages or stages[stage].get("skipped"):  # not trained (e.g. no pairs): no draw
                continue
            heldout, results = _judge_greedy(cfg, run, stages[stage]["model"], "heldout", run / stage)
            rows.append({
                "run": str(run), "iteration": t, "draw": draw, "name": name,
                "validation_pearson": stages[f"{name}/validation"]["pearson"],
                "heldout_pearson": heldout,
                "results": str(results),
                "picked": kept is not None and kept["candidate"] == name,
                "kept_by_gate": bool(kept and kept["candidate"] == name and kept["kept"]),
            } | prediction_spread(results))
    return rows


def prediction_spread(results: Path) -> dict[str, Any]:
    """Mean and standard deviation of a judge's parsed predictions and of the gold scores of the
    same items (unparsed verdicts are left out and counted)."""
    import numpy as np

    r = run_predictions(results)
    parsed = [(p, g) for p, g in zip(r["pred"], r["gold"], strict=True) if p is not None]
    pred, gold = np.array([p for p, _ in parsed], float), np.array([g for _, g in parsed], float)
    return {"pred_mean": float(pred.mean()) if parsed else None, "pred_std": float(pred.std()) if parsed else None,
            "gold_mean": float(gold.mean()) if parsed else None, "gold_std": float(gold.std()) if parsed else None,
            "unparsed": len(r["pred"]) - len(parsed)}


def average_weights(models: list[Path], out: Path) -> Path:
    """The uniform weight average of ``models`` (same architecture, merged safetensors weights,
    sharded or not) written to ``out`` with the first model's config and tokenizer files."""
    import shutil

    from safetensors.torch import load_file, save_file

    shards = sorted(p.name for p in models[0].glob("*.safetensors"))
    if not shards:
        raise FileNotFoundError(f"{models[0]} has no safetensors weights")
    for m in models[1:]:
        if sorted(p.name for p in m.glob("*.safetensors")) != shards:
            raise ValueError(f"{m} is not sharded as {models[0]} is")
    out.mkdir(parents=True, exist_ok=True)
    for shard in shards:
        first = load_file(str(models[0] / shard))
        total = {name: w.double() for name, w in first.items()}
        for m in models[1:]:
            weights = load_file(str(m / shard))
            if weights.keys() != total.keys():
                raise ValueError(f"{m / shard} does not hold the same tensors as {models[0] / shard}")
            for name, w in weights.items():
                total[name] += w.double()
        save_file({n: (w / len(models)).to(first[n].dtype).contiguous() for n, w in total.items()},
                  str(out / shard), metadata={"format": "pt"})
    for f in models[0].iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy(f, out / f.name)
    return out


def soup_rows(run: Path, draws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per iteration of ``run`` with two or more draws in ``draws``: their weight average judged
    greedily on the validation and held-out splits (``iter<t>/dpo-soup``)."""
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.pipeline import dpo_stage

    cfg, stages = TrainConfig.load(run / "config.yaml"), _stages(run)
    rows = []
    for t in sorted({d["iteration"] for d in draws if d["run"] == str(run)}):
        names = [d["name"] for d in draws if d["run"] == str(run) and d["iteration"] == t]
        if len(names) < 2:
            continue
        folder = run / f"iter{t}" / SOUP
        model = folder / "model"
        if not (model / "config.json").exists():
            average_weights([Path(stages[dpo_stage(n)]["model"]) for n in names], model)
        validation, _ = _judge_greedy(cfg, run, str(model), "validation", folder)
        heldout, results = _judge_greedy(cfg, run, str(model), "heldout", folder)
        rows.append({"run": str(run), "iteration": t, "name": f"iter{t}/{SOUP}", "of": names,
                     "validation_pearson": validation, "heldout_pearson": heldout, "results": str(results)}
                    | prediction_spread(results))
    return rows


def seed_row(run: Path) -> dict[str, Any]:
    stages = _stages(run)
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


def _spread(row: dict[str, Any]) -> str:
    if row["pred_mean"] is None:
        return f"nothing parsed ({row['unparsed']})"
    unparsed = f", {row['unparsed']} unparsed" if row["unparsed"] else ""
    return f"{row['pred_mean']:.2f} ({row['pred_std']:.2f}), {row['gold_mean']:.2f} ({row['gold_std']:.2f}){unparsed}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="training runs with validation.draws > 1")
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--soup", action="store_true",
                    help="also judge each iteration's weight average of its draws (iter<t>/dpo-soup)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    seeds = {str(r): seed_row(r) for r in args.runs}
    for s in seeds.values():
        s |= prediction_spread(Path(s["results"]))
    rows = [row for r in args.runs for row in draw_rows(r)]
    soups = [row for r in args.runs for row in soup_rows(r, rows)] if args.soup else []
    print("| run | judge | validation Pearson | held-out Pearson | held-out minus seed [95% CI] | "
          "predicted mean (sd), gold mean (sd) | picked |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        s = seeds[str(run)]
        print(f"| {run} | {s['name']} (seed) | {_f(s['validation_pearson'])} | {_f(s['heldout_pearson'])} | | "
              f"{_spread(s)} | |")
        for row in (r for r in rows + soups if r["run"] == str(run)):
            d = pooled_diff([row["results"]], [s["results"]], args.bootstrap)
            row["minus_seed"] = {k: d[k] for k in ("diff", "ci", "n")}
            lo, hi = d["ci"]
            what = f"draw {row['draw']}" if "draw" in row else f"average of {len(row['of'])} draws"
            print(f"| {run} | {row['name']} ({what}) | {_f(row['validation_pearson'])} | "
                  f"{_f(row['heldout_pearson'])} | {d['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {_spread(row)} | "
                  f"{'yes' + (', kept' if row['kept_by_gate'] else ', rejected') if row.get('picked') else ''} |")
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
        soup = {x["run"]: x["results"] for x in soups if x["iteration"] == t}
        if soup.keys() == set(runs):
            comparisons |= {"soup minus seed": ([soup[r] for r in runs], base),
                            "soup minus picked draw": ([soup[r] for r in runs], picked)}
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
        for x in (x for x in soups if x["iteration"] == t):
            held = [d["heldout_pearson"] for d in ranked if d["run"] == x["run"]]
            defined = held and x["heldout_pearson"] is not None
            x["minus_mean_draw"] = x["heldout_pearson"] - sum(held) / len(held) if defined else None
            print(f"- {x['run']}: the soup's held-out Pearson minus the mean over its draws {_f(x['minus_mean_draw'])}")

    if args.out:
        args.out.write_text(json.dumps({"seeds": seeds, "draws": rows, "soups": soups, "pooled": pooled}, indent=1),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
