"""Training-step time of SmolLM2-135M + LoRA on the CPU under glibc malloc, jemalloc and tcmalloc.

One forward + backward of a LoRA (r=16, all linear layers) SmolLM2-135M on a batch of 2 x 450
tokens (the demo's SFT batch), bf16 autocast on and off, each in a fresh process with the allocator
preloaded (``LD_PRELOAD``). On small CPU VMs the step is dominated by allocating and page-faulting
the big activation and logit buffers, not by the matmuls; an allocator that keeps freed memory
(jemalloc without decay, tcmalloc) avoids most of that. Nothing here changes results: only speed.

    python benchmarks/bench_allocator.py --steps 4 --out bench_allocator.json

Needs the SmolLM2 base folder (``selfrat demo`` writes it into ``runs/demo-smollm2/base``) or
``--model DIR``; allocators that are not installed (``apt-get install libjemalloc2
libtcmalloc-minimal4``) are skipped and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
ALLOCATORS = {
    "glibc": (None, {}),
    "jemalloc (no decay)": (
        LIBDIR / "libjemalloc.so.2",
        {"MALLOC_CONF": "background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1"},
    ),
    "jemalloc (default decay)": (LIBDIR / "libjemalloc.so.2", {}),
    "tcmalloc": (LIBDIR / "libtcmalloc_minimal.so.4", {}),
}


def one_process(model: str, steps: int, tokens: int) -> dict[str, list[float]]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    m = get_peft_model(m, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    x = torch.randint(0, m.config.vocab_size, (2, tokens), generator=torch.Generator().manual_seed(0))
    out: dict[str, list[float]] = {}
    for autocast in (True, False):
        times = []
        for i in range(steps + 1):  # the first step warms up and is not counted
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = m(input_ids=x, labels=x).loss
            loss.backward()
            m.zero_grad(set_to_none=True)
            if i:
                times.append(round(time.perf_counter() - t0, 3))
        out["bf16 autocast" if autocast else "fp32"] = times
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="runs/demo-smollm2/base")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=450)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(one_process(args.model, args.steps, args.tokens)))
        return 0
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"{args.model}: no model folder (run `make demo` first or pass --model)")
    results: dict[str, object] = {}
    for name, (lib, extra) in ALLOCATORS.items():
        if lib is not None and not lib.is_file():
            results[name] = f"skipped: {lib} not installed"
            print(f"{name}: skipped ({lib} not installed)")
            continue
        env = {**os.environ, **extra}
        if lib is not None:
            env["LD_PRELOAD"] = str(lib)
        cmd = [sys.executable, __file__, "--child", "--model", args.model, "--steps", str(args.steps),
               "--tokens", str(args.tokens)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        times = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = {k: {"seconds": v, "median": sorted(v)[len(v) // 2]} for k, v in times.items()}
        print(f"{name}: " + ", ".join(f"{k} {sorted(v)[len(v) // 2]:.2f} s/step" for k, v in times.items()))
    report = {"model": args.model, "steps": args.steps, "batch": [2, args.tokens],
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
