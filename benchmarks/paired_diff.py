"""Paired bootstrap difference of held-out Pearson between judges evaluated on the same items.

    python benchmarks/paired_diff.py TARGET/results.json BASELINE/results.json [MORE/results.json ...]

Each argument is a runner ``results.json`` (``selfrat evaluate``, or ``<judge>/eval/<strategy>/`` of a
training run). Items are matched by id; the difference "target minus each baseline" comes from
:func:`selfrat_eval.metrics.paired_bootstrap_diff` (both judges scored on the same resampled items).
Prints a table and, with ``--out``, writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import paired_bootstrap_diff


def predictions(path: Path) -> tuple[dict[str, float | None], dict[str, float | None]]:
    run = run_predictions(path)  # the demo report's reader: one results.json parser
    return dict(zip(run["ids"], run["pred"], strict=True)), dict(zip(run["ids"], run["gold"], strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", type=Path)
    ap.add_argument("baselines", type=Path, nargs="+")
    ap.add_argument("--metric", default="pearson", choices=["pearson", "spearman"])
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    target, gold = predictions(args.target)
    rows = []
    print(f"| target minus | n | {args.metric} target | {args.metric} baseline | diff [95% CI] | p(diff <= 0) |")
    print("|---|---|---|---|---|---|")
    for path in args.baselines:
        base, base_gold = predictions(path)
        ids = sorted(set(target) & set(base))
        if not ids or any(gold[i] != base_gold[i] for i in ids):
            raise SystemExit(f"{path}: no shared items with the target, or different gold scores")
        r = paired_bootstrap_diff(
            [target[i] for i in ids], [base[i] for i in ids], [gold[i] for i in ids],
            metric=args.metric, n_resamples=args.bootstrap, seed=args.seed,
        )  # fmt: skip
        rows.append({"baseline": str(path), **r})
        lo, hi = r["ci"]
        print(f"| {path} | {r['n']} | {r[f'{args.metric}_a']:.3f} | {r[f'{args.metric}_b']:.3f} | "
              f"{r['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['p_not_greater']:.3f} |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"target": str(args.target), "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
