"""HF backend sampling time: transformers' top-p warper (sorts the vocabulary every step) vs ours.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python benchmarks/bench_top_p.py \
        [--model DIR|FILE.gguf] [--prompts 4] [--n 8] [--max-new-tokens 96] [--batch-size 16] [--dtype bfloat16] \
        [--repeats 2] [--out bench_top_p.json]

Both arms are the HF backend with the same model, prompts, seed and sampling (T=1.0, top-p 0.95,
repetition penalty 1.03, fixed output length: EOS ignored):
- ``transformers top-p``: temperature and top-p handed to ``generate`` (its ``TopPLogitsWarper``,
  a full sort of the vocabulary per row and step), as the backend did before;
- ``top-k bounded top-p``: the backend as shipped (``selfrat_eval.generation.top_p``).
The kept token sets are the same, so the samples should be the same: the script reports how many
texts are identical between the arms, and the minimum time over ``--repeats`` runs of each arm.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _runner_common import cpu_model, emit, grading_items, grading_messages, resolve_model

from selfrat_eval.generation.base import SamplingConfig
from selfrat_eval.generation.hf import HFBackend


class TransformersTopPBackend(HFBackend):
    """The backend with temperature/top-p left to ``generate``'s own warpers."""

    def _generation_config(self, sampling: SamplingConfig, n: int, returns: int) -> Any:
        config = super()._generation_config(sampling, n, returns)
        if not sampling.greedy:
            config.temperature = sampling.temperature
            config.top_p = sampling.top_p
        return config

    @staticmethod
    def _sampling_processors(sampling: SamplingConfig) -> list[Any]:
        return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()

    path, gguf, label = resolve_model(args.model)
    prompts = grading_messages(grading_items(args.prompts))
    sampling = SamplingConfig(temperature=1.0, top_p=args.top_p, max_new_tokens=args.max_new_tokens)
    ours = HFBackend(path, gguf_file=gguf, dtype=args.dtype, batch_size=args.batch_size, ignore_eos=True)
    stock = TransformersTopPBackend(ours.model, ours.tokenizer, batch_size=args.batch_size, ignore_eos=True)
    arms = {"transformers top-p": stock, "top-k bounded top-p": ours}
    ours.generate(prompts[:1], n=2, sampling=SamplingConfig(max_new_tokens=2), seed=0)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in arms}
    texts: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, backend in arms.items():  # alternated: a change in machine load hits both arms
            start = time.perf_counter()
            out = backend.generate(prompts, n=args.n, sampling=sampling, seed=0)
            times[name].append(round(time.perf_counter() - start, 2))
            texts[name] = [s.text for group in out for s in group]
    a, b = texts["transformers top-p"], texts["top-k bounded top-p"]
    best = {name: min(ts) for name, ts in times.items()}
    emit(
        {
            "benchmark": "HF backend sampling: transformers top-p warper vs top-k bounded top-p",
            "model": label,
            "dtype": args.dtype,
            "cpu": cpu_model(),
            "prompts": args.prompts,
            "n": args.n,
            "batch_size": args.batch_size,
            "new_tokens_per_sample": args.max_new_tokens,
            "top_p": args.top_p,
            "seconds": times,
            "min_seconds": best,
            "ours_over_transformers": round(best["top-k bounded top-p"] / best["transformers top-p"], 3),
            "identical_texts": sum(x == y for x, y in zip(a, b, strict=True)),
            "samples": len(a),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
