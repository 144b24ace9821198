"""Is an iteration's held-out change bigger than a random weight change of the same size?

For iteration t of a finished training run, take the weight change of its training step,
Delta = trained judge - the judge it started from (the DPO or RS-SFT reference, both stored merged),
and build control judges from the starting judge:

- ``anti``: start - Delta, the same step in the opposite direction;
- ``random<k>``: start + R_k, where R_k is a seeded random direction with each tensor's norm equal
  to Delta's (a random rank-r product for matrices, r = the run's ``lora.r``, so it spans as few
  directions as a LoRA step; Gaussian for vectors; untouched tensors stay untouched);
- ``scale<a>`` (``--scale a``): start + a * Delta, a shorter (a < 1) or longer step along the
  trained direction.

Every judge is judged greedily on the run's held-out split with the run's own evaluation settings
(protocol, decoding, seed; the run's cache, so the start and trained judges cost no generation)
and compared with the starting judge by paired bootstrap. If the opposite step and random steps
move held-out Pearson as far as the trained step, the iteration's change is not distinguishable
from perturbation noise at this size.

    python benchmarks/bench_perturbation.py --run runs/sre-effect-p8seed/seed0 --iteration 1 --random 2 \\
        --scale 0.25 --scale 0.5 --out runs/perturb/seed0
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import paired_bootstrap_diff
from selfrat_eval.results import clean


def training_step(run: Path, iteration: int) -> tuple[Path, Path]:
    """(starting judge, trained judge) of iteration ``iteration``, from the run's manifest."""
    stages = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]
    for name in (f"iter{iteration}/dpo", f"iter{iteration}/rs_sft"):
        info = stages.get(name, {})
        if info.get("status") == "done" and "reference" in info:
            return Path(info["reference"]), Path(info["model"])
    raise SystemExit(f"{run}: iteration {iteration} has no finished training stage with a recorded reference")


def control_weights(
    start: dict[str, Any], trained: dict[str, Any], kind: str, rank: int, seed: int, scale: float = 1.0
) -> dict[str, Any]:
    """``start - Delta`` (kind ``anti``), ``start + scale * Delta`` (``scale``) or ``start + R`` with
    ||R|| = ||Delta|| per tensor (``random``)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, w0 in start.items():
        delta = trained[name].float() - w0.float()
        norm = delta.norm()
        if not w0.is_floating_point() or norm == 0:
            out[name] = w0
            continue
        if kind == "anti":
            step = -delta
        elif kind == "scale":
            step = scale * delta
        elif delta.dim() == 2:
            r = min(rank, *delta.shape)
            a = torch.randn(delta.shape[0], r, generator=gen)
            b = torch.randn(r, delta.shape[1], generator=gen)
            step = a @ b
            step *= norm / step.norm()
        else:
            step = torch.randn(delta.shape, generator=gen)
            step *= norm / step.norm()
        out[name] = (w0.float() + step).to(w0.dtype).contiguous()
    return out


def write_control(start_dir: Path, weights: dict[str, Any], out: Path) -> Path:
    """The starting judge's folder (config, tokenizer) with the control weights."""
    from safetensors.torch import save_file

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(start_dir, out, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a finished training run")
    ap.add_argument("--iteration", type=int, default=1)
    ap.add_argument("--random", type=int, default=2, help="random directions")
    ap.add_argument("--scale", type=float, action="append", default=[], help="also start + a * Delta (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bootstrap", type=int, default=5000)
    ap.add_argument("--keep-models", action="store_true", help="keep the control judges' weights")
    args = ap.parse_args(argv)

    from safetensors.torch import load_file

    from selfrat_eval.protocols import StrategyConfig
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.evaluate import cache_dir, evaluate_judge
    from selfrat_eval.training.modeling import ModelRef

    start_dir, trained_dir = training_step(args.run, args.iteration)
    cfg = TrainConfig.load(args.run / "config.yaml")
    cfg.evaluation.cache_dir = str(cache_dir(cfg))  # the run's cache: start and trained judges are cached
    heldout = args.run / "data" / "heldout.jsonl"
    start = load_file(str(start_dir / "model.safetensors"))
    trained = load_file(str(trained_dir / "model.safetensors"))
    if set(start) != set(trained):
        raise SystemExit(f"{start_dir} and {trained_dir} do not hold the same tensors")
    judges: dict[str, Path] = {"start": start_dir, "trained": trained_dir}
    # (name, kind, scale); the control at index k is built with seed args.seed + k
    specs = [("anti", "anti", -1.0)] + [(f"random{k}", "random", 1.0) for k in range(args.random)]
    specs += [(f"scale{a:g}", "scale", a) for a in args.scale]
    controls = [name for name, _, _ in specs]
    for k, (name, kind, scale) in enumerate(specs):
        model = args.out / name / "model"
        if not (model / "model.safetensors").is_file():
            write_control(start_dir, control_weights(start, trained, kind, cfg.lora.r, args.seed + k, scale), model)
        judges[name] = model
    del start, trained
    greedy = [StrategyConfig(name="greedy")]
    results: dict[str, Path] = {}
    for name, model in judges.items():
        evaluate_judge(cfg, ModelRef(str(model)), heldout, args.out / name / "eval", greedy)
        results[name] = args.out / name / "eval" / "greedy" / "results.json"
    base = run_predictions(results["start"])
    rows = []
    for name, path in results.items():
        run = run_predictions(path)
        if run["ids"] != base["ids"]:
            raise SystemExit(f"{path}: not the same held-out items as the starting judge")
        d = paired_bootstrap_diff(run["pred"], base["pred"], base["gold"], n_resamples=args.bootstrap, seed=0)
        rows.append({"judge": name, "model": str(judges[name]), "pearson": d["pearson_a"],
                     "minus_start": d["diff"], "ci": d["ci"], "parse_rate": run["metrics"].get("parse_rate")})
    if not args.keep_models:
        for name in controls:
            (args.out / name / "model" / "model.safetensors").unlink(missing_ok=True)
    out = {"run": str(args.run), "iteration": args.iteration, "start": str(start_dir), "trained": str(trained_dir),
           "rank": cfg.lora.r, "seed": args.seed, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perturbation.json").write_text(json.dumps(clean(out), indent=1), encoding="utf-8")
    print(f"{args.run} iteration {args.iteration}: held-out greedy Pearson, minus the starting judge")
    print("| judge | Pearson | minus start [95% CI] | parse rate |")
    print("|---|---|---|---|")
    for r in rows:
        lo, hi = r["ci"]
        print(f"| {r['judge']} | {r['pearson']:.3f} | {r['minus_start']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['parse_rate']} |")
    print(f"wrote {args.out / 'perturbation.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
