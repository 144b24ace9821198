"""Does judging again from an empty cache reproduce a training run's held-out evaluation?

Judges a run's judge (``--judge``: a stage name of the run such as ``base``, ``sft`` or ``iter1``)
``--repeats`` times on the run's held-out split with the run's own evaluation settings, each time
with a fresh cache, and counts the items whose prediction differs from the run's cached evaluation
(``<judge>/eval/greedy/results.json``). With the vLLM backend this measures how far regenerated
greedy judgments drift (vLLM does not guarantee reproducibility by default); with ``hf`` every
repeat should match.

    python benchmarks/bench_rejudge.py --run runs/sre-effect-p8seed/seed1 --judge base --repeats 2 --out runs/rejudge
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--judge", default="base", help="stage whose judge to re-judge (base, sft, rs_sft, iter<t>)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    from selfrat_eval.demo.report import run_predictions
    from selfrat_eval.protocols import StrategyConfig
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.evaluate import evaluate_judge
    from selfrat_eval.training.modeling import ModelRef

    cfg = TrainConfig.load(args.run / "config.yaml")
    curve = json.loads((args.run / "curve.json").read_text(encoding="utf-8"))
    if args.judge not in curve["judges"]:
        raise SystemExit(f"{args.run}: no judge {args.judge!r}; the run has {sorted(curve['judges'])}")
    judge = ModelRef(curve["judges"][args.judge], cfg.model.gguf_file if args.judge == "base" else None)
    cached = run_predictions(args.run / args.judge / "eval" / "greedy" / "results.json")
    rows = []
    for k in range(args.repeats):
        cache = args.out / f"cache{k}"
        shutil.rmtree(cache, ignore_errors=True)  # every repeat generates everything
        cfg.evaluation.cache_dir = str(cache)
        evaluate_judge(cfg, judge, args.run / "data" / "heldout.jsonl", args.out / f"repeat{k}", [StrategyConfig(name="greedy")])
        run = run_predictions(args.out / f"repeat{k}" / "greedy" / "results.json")
        if run["ids"] != cached["ids"]:
            raise SystemExit("the repeat judged other items than the run's evaluation")
        differ = sum(a != b for a, b in zip(run["pred"], cached["pred"], strict=True))
        rows.append({"repeat": k, "items_differing": differ, "n": len(run["ids"]),
                     "pearson": run["metrics"].get("pearson"), "cached_pearson": cached["metrics"].get("pearson")})
        print(f"repeat {k}: {differ} of {len(run['ids'])} predictions differ from the cached run; "
              f"Pearson {rows[-1]['pearson']} vs {rows[-1]['cached_pearson']}")
    out = {"run": str(args.run), "judge": args.judge, "model": judge.path, "backend": cfg.sampling.backend, "rows": rows}
    (args.out / "rejudge.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"wrote {args.out / 'rejudge.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
