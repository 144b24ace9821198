"""Time of ``score_metrics(pred, gold, bootstrap=1000)`` on 100,000 items (issue 12 target: < 3 s).

    python benchmarks/bench_bootstrap.py [--n 100000] [--bootstrap 1000] [--seed 0] [--out bench_bootstrap.json]

Three kinds of predictions against integer gold scores 1..5:

- ``integers``: parsed scores 1..5 (the contingency-table path: every statistic exact per resample);
- ``means``: self-consistency means of 8 samples (still few distinct values: tables);
- ``continuous``: expected scores, all distinct (row-wise path; Kendall's interval from an
  m-out-of-n bootstrap with m = KENDALL_BOOTSTRAP_CAP).

The timed part is one ``score_metrics`` call with all five statistics and their intervals.
Best of --repeats runs is reported, as wall time and as CPU time of this process (the latter is
the steadier number on a machine shared with other jobs).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from selfrat_eval.metrics import KENDALL_BOOTSTRAP_CAP, score_metrics

TARGET_S = 3.0


def make_predictions(kind: str, gold: np.ndarray, rng: np.random.Generator) -> list[float]:
    if kind == "integers":
        pred = np.clip(gold + rng.choice([-1, 0, 0, 0, 1], size=len(gold)), 1, 5)
    elif kind == "means":
        samples = np.clip(gold[:, None] + rng.choice([-1, 0, 0, 1], size=(len(gold), 8)), 1, 5)
        pred = samples.mean(axis=1)
    else:
        pred = gold + rng.normal(0, 0.8, size=len(gold))
    return pred.tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the result JSON here")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    gold = rng.integers(1, 6, size=args.n).astype(float)
    score_metrics([1, 2, 3], [1, 2, 3], bootstrap=10)  # import scipy outside the timed region
    runs = []
    for kind in ("integers", "means", "continuous"):
        pred = make_predictions(kind, gold, rng)
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            m = score_metrics(pred, gold.tolist(), bootstrap=args.bootstrap, seed=args.seed)
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
        runs.append({
            "predictions": kind, "seconds": round(best, 3), "cpu_seconds": round(best_cpu, 3),
            "pearson": m["pearson"], "ci": m["ci"],
        })
    result = {
        "n": args.n,
        "bootstrap": args.bootstrap,
        "kendall_cap": KENDALL_BOOTSTRAP_CAP,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runs": runs,
        "target_s": TARGET_S,
        "meets_target": all(r["seconds"] < TARGET_S for r in runs),
    }
    print(f"score_metrics, n={args.n}, bootstrap={args.bootstrap}")
    for r in runs:
        ci = r["ci"]["pearson"]
        print(f"  {r['predictions']:<11} {r['seconds']:7.2f} s wall {r['cpu_seconds']:7.2f} s CPU   "
              f"pearson {r['pearson']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]")
    print(f"target < {TARGET_S:.0f} s: {'met' if result['meets_target'] else 'NOT met'}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
