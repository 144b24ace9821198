"""N samples per prompt through ONE batched call vs N separate calls (target: <= 0.25x the time).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/bench_sampling.py \
        [--model DIR|FILE.gguf] [--prompts 4] [--n 8] [--max-new-tokens 32] [--repeats 2] [--out bench.json]

Both arms use the HF backend with the same prompts, sampling settings and fixed output length
(EOS ignored, so every sample has exactly ``--max-new-tokens`` tokens):
- batched: ``generate(prompts, n=N)`` - prompts encoded once, KV cache repeated N times;
- separate: N calls ``generate(prompts, n=1, seed=k)``, each re-encoding the prompts;
- for reference, ``num_return_sequences`` without the shared prompt cache.
The minimum over ``--repeats`` runs of each arm is reported (the machine may be shared).
"""

from __future__ import annotations

import argparse
import time

from _runner_common import emit, grading_items, grading_messages, resolve_model

from selfrat_eval.generation.base import SamplingConfig
from selfrat_eval.generation.hf import HFBackend


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--words", type=int, default=120, help="response length of the synthetic items")
    ap.add_argument("--out")
    args = ap.parse_args()

    path, gguf, label = resolve_model(args.model)
    prompts = grading_messages(grading_items(args.prompts, args.words))
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    batch = args.prompts * args.n  # one generate call holds every sequence in both arms
    shared = HFBackend(path, gguf_file=gguf, batch_size=batch, ignore_eos=True)
    plain = HFBackend(
        shared.model, shared.tokenizer, batch_size=batch, ignore_eos=True, share_prompt_cache=False
    )
    prompt_tokens = sum(len(shared.encode(p)) for p in prompts) / len(prompts)

    shared.generate(prompts[:1], n=2, sampling=SamplingConfig(max_new_tokens=2), seed=0)  # warm-up
    t_batched = _best(lambda: shared.generate(prompts, n=args.n, sampling=sampling, seed=0), args.repeats)
    t_nrs = _best(lambda: plain.generate(prompts, n=args.n, sampling=sampling, seed=0), args.repeats)
    t_separate = _best(
        lambda: [shared.generate(prompts, n=1, sampling=sampling, seed=k) for k in range(args.n)],
        args.repeats,
    )
    emit(
        {
            "benchmark": "n_samples_batched_vs_separate",
            "model": label,
            "prompts": args.prompts,
            "mean_prompt_tokens": round(prompt_tokens, 1),
            "n": args.n,
            "new_tokens_per_sample": args.max_new_tokens,
            "seconds_batched_shared_prefill": round(t_batched, 3),
            "seconds_num_return_sequences": round(t_nrs, 3),
            "seconds_separate_calls": round(t_separate, 3),
            "ratio_batched_over_separate": round(t_batched / t_separate, 3),
            "ratio_num_return_sequences_over_separate": round(t_nrs / t_separate, 3),
            "target_ratio": 0.25,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
