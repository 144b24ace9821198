"""Paired bootstrap difference of held-out Pearson between judges evaluated on the same items.

    python benchmarks/paired_diff.py TARGET/results.json BASELINE/results.json [MORE/results.json ...]

Each argument is a runner ``results.json`` (``selfrat evaluate``, or ``<judge>/eval/<strategy>/`` of a
training run). Items are matched by id; the difference "target minus each baseline" comes from
:func:`selfrat_eval.metrics.paired_bootstrap_diff` (both judges scored on the same resampled items).
Pooling over seeds: an argument may list one ``results.json`` per seed, comma-separated and in
the same seed order for every argument; items are then matched by (position in the list, id), so
the seeds' held-out items form one paired sample (as ``bench_sre_effect.py`` pools them). With
more than one seed each seed's own difference is reported too, and the seeds taken as replicates
(mean of the per-seed differences, Student-t CI: :func:`selfrat_eval.metrics.across_seeds`), since
the pooled item bootstrap does not see how much each seed's own training moves its judge.

    python benchmarks/paired_diff.py s0/iter2/eval/greedy/results.json,s1/iter2/eval/greedy/results.json \
        s0/base/eval/greedy/results.json,s1/base/eval/greedy/results.json

Prints a table and, with ``--out``, writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import across_seeds, paired_bootstrap_diff


def predictions(arg: str) -> tuple[dict[tuple[int, str], float | None], dict[tuple[int, str], float | None]]:
    """Predictions and gold scores keyed by (seed position, item id) of one or more comma-separated
    results.json files."""
    pred: dict[tuple[int, str], float | None] = {}
    gold: dict[tuple[int, str], float | None] = {}
    for k, path in enumerate(arg.split(",")):
        run = run_predictions(Path(path))  # the demo report's reader: one results.json parser
        pred.update(((k, i), p) for i, p in zip(run["ids"], run["pred"], strict=True))
        gold.update(((k, i), g) for i, g in zip(run["ids"], run["gold"], strict=True))
    return pred, gold


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", help="results.json (comma-separated: one per seed, pooled)")
    ap.add_argument("baselines", nargs="+", help="results.json of each baseline (same seed order as the target)")
    ap.add_argument("--metric", default="pearson", choices=["pearson", "spearman"])
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    target, gold = predictions(args.target)
    n_seeds = len(args.target.split(","))
    rows = []
    print(f"| target minus | n | {args.metric} target | {args.metric} baseline | diff [95% CI] | p(diff <= 0) |"
          + (" per seed | seeds as replicates: mean [t 95% CI] |" if n_seeds > 1 else ""))
    print("|---|---|---|---|---|---|" + ("---|---|" if n_seeds > 1 else ""))
    for path in args.baselines:
        if (n_files := len(path.split(","))) != n_seeds:
            raise SystemExit(f"{path}: {n_files} results files, the target has {n_seeds} (one per seed)")
        base, base_gold = predictions(path)
        ids = sorted(set(target) & set(base))
        if not ids or any(gold[i] != base_gold[i] for i in ids):
            raise SystemExit(f"{path}: no shared items with the target, or different gold scores")
        r = paired_bootstrap_diff(
            [target[i] for i in ids], [base[i] for i in ids], [gold[i] for i in ids],
            metric=args.metric, n_resamples=args.bootstrap, seed=args.seed,
        )  # fmt: skip
        row = {"baseline": path, **r}
        lo, hi = r["ci"]
        line = (f"| {path} | {r['n']} | {r[f'{args.metric}_a']:.3f} | {r[f'{args.metric}_b']:.3f} | "
                f"{r['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['p_not_greater']:.3f} |")  # fmt: skip
        if n_seeds > 1:
            per_seed = []
            for k in range(n_seeds):
                seed_ids = [i for i in ids if i[0] == k]
                d = paired_bootstrap_diff(
                    [target[i] for i in seed_ids], [base[i] for i in seed_ids], [gold[i] for i in seed_ids],
                    metric=args.metric, n_resamples=args.bootstrap, seed=args.seed,
                )  # fmt: skip
                per_seed.append({"diff": d["diff"], "ci": d["ci"], "n": d["n"]})
            row["per_seed"], row["across_seeds"] = per_seed, across_seeds([d["diff"] for d in per_seed])
            seeds = row["across_seeds"]
            line += (" " + "; ".join(f"{d['diff']:+.3f}" for d in per_seed) + f" | {seeds['mean']:+.3f} "
                     f"[{seeds['ci'][0]:+.3f}, {seeds['ci'][1]:+.3f}] |")  # fmt: skip
        rows.append(row)
        print(line)
    if args.out:
        args.out.write_text(json.dumps({"target": args.target, "n_seeds": n_seeds, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
