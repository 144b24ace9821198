"""A small, scripted sweep of what the paper leaves open (DPO learning rate and beta, the NLL term,
pairs per input, min_gap; the RS-SFT learning rate), on a seed kept apart from the benchmark seeds.

Everything shares one seed judge and one set of iteration-1 samples, so a variant costs only its
own training and evaluation:

1. ``OUT/base``: the preset's data (``--seed``, default 100: the benchmark uses 0, 1, 2) and one
   ``selfrat train`` run with the preset's settings for ``--iterations`` iterations (seed SFT,
   iteration-1 samples, RS-SFT, DPO, held-out evaluation greedy and expected-score);
2. ``OUT/<variant>``: a ``selfrat train`` run that starts from the base run's SFT judge
   (``sft.enabled=false``), finds the base run's iteration-1 sample files in place (the sampling
   stage then resumes with nothing to generate) and applies the variant's overrides. ``rs:``
   variants are ``method: rejection-sampling`` runs (RS-SFT of the seed on the same samples).
   All runs share one evaluation cache, so the seed is judged once.

Each variant's held-out Pearson (greedy and expected-score) is compared with the seed judge's on the
same items (paired bootstrap). Writes ``OUT/sweep.json`` and prints a table.

``--base-run DIR`` (repeatable) skips step 1 and uses finished training runs as bases, e.g. the
seeds of ``bench_sre_effect.py``: each variant then runs once per base into ``OUT/<variant>/<DIR
name>`` from that run's seed judge and iteration-1 samples (and its evaluation cache, so the seed is
not judged again), and the differences are also pooled over the bases (held-out items
concatenated, as ``bench_sre_effect.py`` pools seeds). This is how a variant chosen on seed 100 is
checked on the benchmark's seeds without re-sampling; ``bench_sre_effect.py --sre-runs`` then puts
it beside SC@N, BoN@N and RS-SFT. A variant that only sets the validation gate (``validation.*``)
also reuses the base's iteration-1 pairs and DPO judge: it pays only for the gate and for what the
gate changes from iteration 2 on. With ``validation.draws=k`` the reused judge is draw ``dpo.draw``
and only the k-1 further draws are trained (``best3:validation.size=100,validation.draws=3``).

    python benchmarks/sweep_sre.py --out runs/sweep                           # the default grid
    python benchmarks/sweep_sre.py --out runs/sweep --variant lr2e-4:dpo.learning_rate=2e-4 \\
        --variant rs-lr1e-3:rs:rs_sft.learning_rate=1e-3 --iterations 2
    python benchmarks/sweep_sre.py --out runs/sweep-seeds --base-run runs/sre-effect/seed0 \\
        --base-run runs/sre-effect/seed1 --base-run runs/sre-effect/seed2 --variant lr5e-4:dpo.learning_rate=5e-4
    python benchmarks/sweep_sre.py --out runs/sweep-gate --iterations 2 --variant gate:validation.size=100 \
        --base-run runs/sre-effect/seed0 --base-run runs/sre-effect/seed1 --base-run runs/sre-effect/seed2
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path
from typing import Any

from selfrat_eval.demo.report import run_predictions
from selfrat_eval.metrics import paired_bootstrap_diff, score_metrics
from selfrat_eval.results import clean

DEFAULT_GRID = [
    "dpo-lr5e-5:dpo.learning_rate=5e-5",
    "dpo-lr3e-4:dpo.learning_rate=3e-4",
    "beta0.3:dpo.beta=0.3",
    "nll1:dpo.nll_alpha=1.0",
    "pairs4:curation.pairs_per_input=4",
    "gap1:curation.min_gap=1",
    "rs-lr2e-4:rs:rs_sft.learning_rate=2e-4",
    "rs-lr1e-3:rs:rs_sft.learning_rate=1e-3",
]


# Overrides that leave iteration 1's curation and DPO as they are (see reuse_iteration1_training).
GATE_ONLY = ("validation.",)


def parse_variant(spec: str) -> dict[str, Any]:
    """``name:key=value,key=value`` or ``name:rs:key=value`` (an RS-SFT variant)."""
    name, _, rest = spec.partition(":")
    rs = rest.startswith("rs:")
    if rs:
        rest = rest[3:]
    overrides = [kv for kv in rest.split(",") if kv]
    if not name or any("=" not in kv for kv in overrides):
        raise SystemExit(f"--variant {spec!r}: expected name:key=value[,key=value] or name:rs:key=value")
    return {"name": name, "rs": rs, "overrides": overrides}


def base_run(
    preset_name: str, seed: int, out: Path, iterations: int, preset_overrides: list[str], seed_judge: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """The shared part: data, base model, seed SFT (or ``seed_judge``), iteration-1 samples, the
    preset's recipe."""
    from selfrat_eval.demo.data import build_splits, write_feedback_collection
    from selfrat_eval.demo.pipeline import load_preset, prepare_model, train_config
    from selfrat_eval.training.pipeline import run_pipeline

    preset = load_preset(preset_name, preset_overrides, seed=seed)
    splits = build_splits(preset.data)
    write_feedback_collection(splits["train"], out / "synthetic" / "train.jsonl")
    write_feedback_collection(splits["heldout"], out / "synthetic" / "heldout.jsonl")
    model = prepare_model(preset, out, splits["train"])
    cfg = train_config(preset, out, model)
    cfg.iterations = cfg.iterations[:iterations]
    cfg.evaluation.cache_dir = str(out.parent / "cache")
    if seed_judge is not None:
        cfg.sft.enabled = False
        cfg.model.name_or_path = str(seed_judge)
    t0 = time.time()
    summary = run_pipeline(cfg)
    return cfg, {"seconds": round(time.time() - t0, 1), **summary}


def variant_run(base_cfg: Any, base_out: Path, variant: dict[str, Any], out: Path) -> dict[str, Any]:
    from selfrat_eval.training.config import TrainConfig, apply_overrides
    from selfrat_eval.training.pipeline import run_pipeline

    raw = copy.deepcopy(base_cfg.to_dict())
    raw["output_dir"] = str(out)
    raw["sft"]["enabled"] = False
    if base_cfg.sft.enabled:
        raw["model"]["name_or_path"] = str(base_out / "sft" / "pointwise" / "model")
    raw["baselines"] = []
    if variant["rs"]:
        raw["method"] = "rejection-sampling"
        raw["iterations"] = raw["iterations"][:1]
    raw = apply_overrides(raw, variant["overrides"])
    cfg = TrainConfig.from_dict(raw, where=f"variant {variant['name']}")
    touched = {kv.split("=", 1)[0] for kv in variant["overrides"]}
    same_samples = not any(k.startswith("sampling.") for k in touched)
    # these decide which inputs lack a pair, hence which inputs the re-sampling rounds draw
    same_rounds = same_samples and not touched & {"curation.min_gap", "curation.strategy", "curation.consistency"}
    it1 = out / "iter1"
    if same_samples and not (it1 / "samples.jsonl").exists():
        it1.mkdir(parents=True, exist_ok=True)
        for f in sorted((base_out / "iter1").glob("*.jsonl")):
            if f.name == "samples.jsonl" or (same_rounds and f.name.startswith("resample")):
                shutil.copy2(f, it1 / f.name)
    if touched and all(k.startswith(GATE_ONLY) for k in touched) and not variant["rs"]:
        reuse_iteration1_training(base_out, out, cfg)
    t0 = time.time()
    summary = run_pipeline(cfg)
    return {"seconds": round(time.time() - t0, 1), **summary}


def reuse_iteration1_training(base_out: Path, out: Path, cfg: Any) -> None:
    """A variant that changes only the validation gate trains nothing new in iteration 1: record
    the base's curation (its pair files copied) and DPO judge (pointed at, not copied) as done in
    the variant's run, so only the gate and what follows it run."""
    from selfrat_eval.training.pipeline import Manifest

    base_stages = json.loads((base_out / "manifest.json").read_text(encoding="utf-8"))["stages"]
    reused = [s for s in ("iter1/curation", "iter1/dpo") if base_stages.get(s, {}).get("status") == "done"]
    if len(reused) < 2:
        return
    manifest = Manifest.open(out, cfg)
    for name in ("pairs.jsonl", "heldout_pairs.jsonl", "curation.json"):
        shutil.copy2(base_out / "iter1" / name, out / "iter1" / name)
    for stage in reused:
        if manifest.done(stage) is None:
            info = {k: v for k, v in base_stages[stage].items() if k not in ("status", "finished_at")}
            manifest.finish(stage, **info, reused_from=str(base_out))


def judge_rows(out: Path, stage: str) -> dict[str, dict[str, Any]]:
    rows = {}
    for variant, slug in (("greedy", "greedy"), ("expected", "expected-score")):
        path = out / stage / "eval" / slug / "results.json"
        if path.is_file():
            rows[variant] = run_predictions(path)
    return rows


def compare(seed_runs: dict[str, Any], runs: dict[str, Any], bootstrap: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant, run in runs.items():
        base = seed_runs[variant]
        d = paired_bootstrap_diff(run["pred"], base["pred"], run["gold"], n_resamples=bootstrap, seed=0)
        out[variant] = {"pearson": run["metrics"]["pearson"], "ci": run["ci"].get("pearson"),
                        "minus_seed": d["diff"], "minus_seed_ci": d["ci"]}
    return out


def reuse_run(run_dir: Path, iterations: int) -> tuple[Any, dict[str, Any]]:
    """A finished training run as the base (``--base-run``): its own config, iterations cut to
    ``iterations``; refused unless its seed judge was evaluated and its iteration 1 was sampled."""
    from selfrat_eval.training.config import TrainConfig

    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"--base-run {run_dir}: no manifest.json (not a training run)")
    stages = json.loads(manifest_path.read_text(encoding="utf-8"))["stages"]
    cfg = TrainConfig.load(run_dir / "config.yaml")
    needed = ["sft/eval" if cfg.sft.enabled else "base/eval", "iter1/sampling"]
    missing = [name for name in needed if stages.get(name, {}).get("status") != "done"]
    if missing:
        raise SystemExit(f"--base-run {run_dir}: stages {missing} are not finished")
    cfg.iterations = cfg.iterations[:iterations]
    if cfg.evaluation.cache_dir is None:  # the run's own cache: the seed judge is not judged again
        cfg.evaluation.cache_dir = str(run_dir / "cache")
    return cfg, {"seconds": None, "reused": str(run_dir)}


def judged_stages(iterations: int) -> list[str]:
    return ["rs_sft", *(f"iter{t}" for t in range(1, iterations + 1))]


def variant_rows(
    base_cfg: Any, base_out: Path, summary: dict[str, Any], variants: list[dict[str, Any]], out_of: Any,
    iterations: int, bootstrap: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run every variant from one base and compare each with the base's seed judge; also return the
    runs read on the way (``seed`` and, per row, ``{stage: runs}``) for :func:`pooled`."""
    seed_stage = "sft" if base_cfg.sft.enabled else "base"
    seed_runs = judge_rows(base_out, seed_stage)
    result: dict[str, Any] = {"base": str(base_out), "seed_stage": seed_stage, "seed_judge": {
        v: {"pearson": r["metrics"]["pearson"], "ci": r["ci"].get("pearson")} for v, r in seed_runs.items()},
        "variants": []}
    stages = judged_stages(iterations)[1:]
    loaded: dict[str, Any] = {"seed": seed_runs, "rows": []}
    entries = [({"name": "base", "rs": False, "overrides": []}, base_out, summary)]
    entries += [({**parse_variant("rs-base:rs:"), "name": "rs (preset)"}, base_out, summary)]
    for v in variants:
        vout = out_of(v)
        entries.append((v, vout, variant_run(base_cfg, base_out, v, vout)))
    for v, vout, run_summary in entries:
        manifest = json.loads((vout / "manifest.json").read_text())["stages"]
        row: dict[str, Any] = {"name": v["name"], "overrides": v["overrides"], "rs": v["rs"], "out": str(vout),
                               "seconds": run_summary.get("seconds")}
        judged = ["rs_sft"] if (v["rs"] and vout == base_out) else (["iter1"] if v["rs"] else stages)
        row_runs: dict[str, Any] = {}
        for stage in judged:
            runs = judge_rows(vout, stage)
            if runs:
                row[stage] = compare(seed_runs, runs, bootstrap)
                row_runs[stage] = runs
            cur = manifest.get(f"{stage}/curation", {}).get("stats")
            if cur:
                row[f"{stage}_pairs"] = {"before_balance": cur["n_pairs_before_balance"], "after": cur["n_pairs"],
                                         "inputs_without_pairs": cur["inputs_without_pairs"]}
        result["variants"].append(row)
        loaded["rows"].append(row_runs)
    return result, loaded


def pooled(bases: list[dict[str, Any]], loaded: list[dict[str, Any]], bootstrap: int) -> list[dict[str, Any]]:
    """Every variant minus the seed judge with the bases' held-out items concatenated into one
    paired sample (a judge's prediction on an item comes from the run on that item's base);
    ``loaded``: the runs :func:`variant_rows` read, one entry per base."""
    rows = []
    for k, first in enumerate(bases[0]["variants"]):
        row: dict[str, Any] = {"name": first["name"], "overrides": first["overrides"], "rs": first["rs"]}
        for stage in loaded[0]["rows"][k]:
            row[stage] = {}
            for variant in ("greedy", "expected"):
                pred: list[float | None] = []
                seed_pred: list[float | None] = []
                gold: list[float] = []
                for base, base_runs in zip(bases, loaded, strict=True):
                    runs = base_runs["rows"][k].get(stage, {})
                    seed = base_runs["seed"]
                    if variant not in runs or variant not in seed:
                        break
                    if runs[variant]["ids"] != seed[variant]["ids"]:
                        raise SystemExit(f"{base['variants'][k]['out']}: held-out items differ from its base's")
                    pred += runs[variant]["pred"]
                    seed_pred += seed[variant]["pred"]
                    gold += [float(g) for g in runs[variant]["gold"]]
                else:
                    judged = score_metrics(pred, gold, bootstrap=bootstrap, seed=0)
                    d = paired_bootstrap_diff(pred, seed_pred, gold, n_resamples=bootstrap, seed=0)
                    row[stage][variant] = {"pearson": judged["pearson"], "ci": judged["ci"]["pearson"], "n": len(gold),
                                           "minus_seed": d["diff"], "minus_seed_ci": d["ci"]}
        rows.append(row)
    return rows


def cell(r: dict[str, Any] | None, variant: str) -> str:
    if not r or variant not in r:
        return "-"
    x = r[variant]
    lo, hi = x["minus_seed_ci"] or (None, None)
    return f"{_num(x['pearson'], '.3f')} ({_num(x['minus_seed'])} [{_num(lo)}, {_num(hi)}])"


def _num(x: float | None, spec: str = "+.3f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)  # None or NaN: a constant judge


def table(rows: list[dict[str, Any]], iterations: int) -> None:
    print("| variant | overrides | stage | greedy Pearson (minus seed [95% CI]) | expected-score Pearson (minus seed) | pairs |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        for stage in judged_stages(iterations):
            if stage in row:
                pairs = row.get(f"{stage}_pairs")
                counts = f"{pairs['before_balance']}->{pairs['after']}" if pairs else "-"
                print(f"| {row['name']} | {' '.join(row['overrides']) or '-'} | {stage} | {cell(row[stage], 'greedy')} | "
                      f"{cell(row[stage], 'expected')} | {counts} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smollm2")
    ap.add_argument("--seed", type=int, default=100, help="kept apart from the benchmark's seeds 0..2")
    ap.add_argument("--out", type=Path, default=Path("runs/sweep"))
    ap.add_argument("--iterations", type=int, default=1, help="SRE iterations per variant (1 or 2)")
    ap.add_argument("--variant", action="append", default=None, help="name:key=value[,key=value] or name:rs:key=value")
    ap.add_argument("--set", dest="preset_overrides", action="append", default=[], help="preset override for every run")
    ap.add_argument("--seed-judge", type=Path, default=None, help="an SFT judge to start from (skips the seed SFT)")
    ap.add_argument("--base-run", type=Path, action="append", default=[],
                    help="a finished training run to use as a base instead of building one (repeatable; pooled)")
    ap.add_argument("--bootstrap", type=int, default=2000)
    args = ap.parse_args(argv)

    variants = [parse_variant(v) for v in (args.variant or DEFAULT_GRID)]
    if args.base_run:
        names = [b.name for b in args.base_run]
        if len(set(names)) != len(names):
            raise SystemExit(f"--base-run folders need distinct names, got {names}")
        bases, loaded = [], []
        for b in args.base_run:
            cfg, summary = reuse_run(b, args.iterations)
            base, runs = variant_rows(cfg, b, summary, variants, lambda v, b=b: args.out / v["name"] / b.name,
                                      args.iterations, args.bootstrap)
            bases.append(base)
            loaded.append(runs)
        result: dict[str, Any] = {"iterations": args.iterations, "bases": bases,
                                  "pooled": pooled(bases, loaded, args.bootstrap)}
    else:
        base_out = args.out / "base"
        base_cfg, base_summary = base_run(args.preset, args.seed, base_out, args.iterations, args.preset_overrides,
                                          args.seed_judge)
        one, _ = variant_rows(base_cfg, base_out, base_summary, variants, lambda v: args.out / v["name"],
                           args.iterations, args.bootstrap)
        result = {"preset": args.preset, "seed": args.seed, "iterations": args.iterations,
                  "preset_overrides": args.preset_overrides, "seed_judge": one["seed_judge"], "variants": one["variants"]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(clean(result), indent=1), encoding="utf-8")
    for base in result.get("bases", [result]):
        print(f"{base.get('base', args.out / 'base')}: seed judge greedy {base['seed_judge'].get('greedy', {}).get('pearson')}, "
              f"expected {base['seed_judge'].get('expected', {}).get('pearson')}")
        table(base["variants"], args.iterations)
    if "pooled" in result:
        print(f"pooled over {len(result['bases'])} bases:")
        table(result["pooled"], args.iterations)
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
