"""The measured self-rationalization effect on the demo's held-out split.

Goal (issue 7): SRE iteration 2 beats the SFT seed, self-consistency@8 and best-of-8 on held-out
Pearson by >= 0.05 each, with the paired bootstrap 95% CI of each difference above 0.

    # run the SmolLM2 demo (about 30 min on 2 CPU cores), then measure
    python benchmarks/bench_sre_effect.py --run --out runs/demo-smollm2
    # or measure a finished demo output directory
    python benchmarks/bench_sre_effect.py --out runs/demo-smollm2

Prints a table and writes ``effect.json`` into the demo directory. Nothing here is a test: the
figures are reported as they come out, including when the effect is absent.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from selfrat_eval.metrics import paired_bootstrap_diff, score_metrics

MIN_EFFECT = 0.05


def measure(
    results: dict[str, Any], *, target: str, baselines: list[str], bootstrap: int, seed: int
) -> dict[str, Any]:
    gold = [float(it["gold"]) for it in results["items"]]
    by_name = {j["name"]: j for j in results["judges"]}
    missing = [n for n in [target, *baselines] if n not in by_name]
    if missing:
        raise SystemExit(f"results.json has no judge(s) {missing}; judges: {sorted(by_name)}")
    judges = {
        name: score_metrics(j["predictions"], gold, bootstrap=bootstrap, seed=seed)
        for name, j in by_name.items()
    }
    rows = []
    for base in baselines:
        d = paired_bootstrap_diff(
            by_name[target]["predictions"],
            by_name[base]["predictions"],
            gold,
            n_resamples=bootstrap,
            seed=seed,
        )
        d["goal_met"] = bool(d["diff"] >= MIN_EFFECT and not math.isnan(d["ci"][0]) and d["ci"][0] > 0)
        rows.append({"target": target, "baseline": base, **d})
    return {
        "n_items": len(gold),
        "judges": judges,
        "differences": rows,
        "goal": f"diff >= {MIN_EFFECT} and CI low > 0",
        "all_goals_met": all(r["goal_met"] for r in rows),
    }


def _print(effect: dict[str, Any], manifest: dict[str, Any], stages: dict[str, Any]) -> None:
    print(f"held-out items: {effect['n_items']}")
    print(f"{'judge':<14} {'pearson':>8} {'95% CI':>18} {'spearman':>9} {'acc':>6} {'parse':>6}")
    for name, m in effect["judges"].items():
        ci = m["ci"]["pearson"]
        print(
            f"{name:<14} {m['pearson']:>8.3f} [{ci[0]:>7.3f}, {ci[1]:>7.3f}] {m['spearman']:>9.3f} "
            f"{m['accuracy']:>6.3f} {m['parse_rate']:>6.3f}"
        )
    print()
    print(f"{'difference':<28} {'diff':>7} {'95% CI':>18} goal")
    for r in effect["differences"]:
        print(
            f"{r['target'] + ' - ' + r['baseline']:<28} {r['diff']:>7.3f} [{r['ci'][0]:>7.3f}, {r['ci'][1]:>7.3f}] "
            f"{'met' if r['goal_met'] else 'NOT met'}"
        )
    for t in sorted(k for k in stages if k.startswith("iter")):
        p = stages[t]["pairs"]
        print(
            f"{t}: {stages[t]['inputs']} inputs, sample parse rate {p['parse_rate']:.2f}, "
            f"{p['n_pairs']} pairs (before balance {p['pairs_by_label_before_balance']}), "
            f"no pair: {p['inputs_without_pairs']}"
        )
    if manifest:
        print(f"wall time {manifest.get('wall_time_s')} s, peak RSS {manifest.get('peak_rss_mb')} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/demo-smollm2"), help="demo output directory")
    ap.add_argument("--run", action="store_true", help="run (or resume) the demo into --out first")
    ap.add_argument("--preset", default="smollm2")
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if args.run:
        from selfrat_eval.demo.pipeline import run_demo

        run_demo(args.preset, args.out)
    path = args.out / "results.json"
    if not path.is_file():
        print(f"{path} not found: run the demo first (or pass --run)", file=sys.stderr)
        return 2
    results = json.loads(path.read_text(encoding="utf-8"))
    names = [j["name"] for j in results["judges"]]
    target = max((n for n in names if n.startswith("SRE iter")), key=lambda n: int(n.split()[-1]))
    baselines = [n for n in names if n == "SFT seed" or n.startswith(("SC@", "BoN@")) or n == "RS-SFT"]
    effect = measure(results, target=target, baselines=baselines, bootstrap=args.bootstrap, seed=args.seed)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    effect["wall_time_s"] = manifest.get("wall_time_s")
    effect["peak_rss_mb"] = manifest.get("peak_rss_mb")
    _print(effect, manifest, results.get("meta", {}).get("stages", {}))
    (args.out / "effect.json").write_text(json.dumps(effect, indent=1), encoding="utf-8")
    print(f"wrote {args.out / 'effect.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
