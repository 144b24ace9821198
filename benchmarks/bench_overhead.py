"""Harness overhead: ``selfrat evaluate`` vs bare ``model.generate`` on the same prompts (target <= 1.10x).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/bench_overhead.py \
        [--model DIR|FILE.gguf] [--items 8] [--max-new-tokens 32] [--repeats 2] [--out bench.json]

Same model object, same chat-templated grading prompts, greedy decoding, one batch of all items,
left padding, same maximum length. Arms:
- bare: tokenize, ``model.generate``, decode (nothing else);
- harness: ``run_evaluation`` exactly as ``selfrat evaluate --benchmark custom --strategy greedy``
  runs it (data loading, prompt rendering, generation with per-token log-probs, parsing, metrics
  with 1000 bootstrap resamples, results.json and the HTML report), cache disabled so it generates.
Model loading is excluded from both (it is identical). Minimum over ``--repeats`` runs, arms
interleaved so machine load affects both alike. ``generation_only`` times the harness backend's
``generate`` call alone, to separate generation overhead from reporting work.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _runner_common import emit, grading_items, grading_messages, resolve_model

from selfrat_eval.generation.factory import BackendConfig
from selfrat_eval.generation.hf import HFBackend
from selfrat_eval.protocols import BenchmarkOptions
from selfrat_eval.runner.config import RunConfig
from selfrat_eval.runner.evaluate import run_evaluation


def bare_generate(model, tokenizer, messages, max_new_tokens: int) -> list[str]:
    import torch

    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(
            **enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id
        )
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--words", type=int, default=40)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()

    path, gguf, label = resolve_model(args.model)
    items = grading_items(args.items, args.words)
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    data = work / "items.jsonl"
    data.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")
    backend = HFBackend(path, gguf_file=gguf, batch_size=args.items)
    messages = grading_messages(items)
    cfg = RunConfig(
        judge=path,
        benchmark="custom",
        options=BenchmarkOptions(data=str(data), rubric="helpfulness"),
        backend=BackendConfig(gguf_file=gguf, batch_size=args.items),
        max_new_tokens=args.max_new_tokens,
        chunk_size=args.items,
        no_cache=True,
        out=str(work / "run"),
        show_progress=False,
    )
    bare_generate(backend.model, backend.tokenizer, messages[:1], 2)  # warm-up

    t_bare, t_harness, t_gen = [], [], []
    texts_bare: list[str] = []
    result = None
    for _ in range(args.repeats):
        start = time.perf_counter()
        texts_bare = bare_generate(backend.model, backend.tokenizer, messages, args.max_new_tokens)
        t_bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = run_evaluation(cfg, backend)
        t_harness.append(time.perf_counter() - start)
        start = time.perf_counter()
        backend.generate(messages, n=1, sampling=cfg.sampling, seed=0)
        t_gen.append(time.perf_counter() - start)
    assert result is not None
    texts_harness = [i["requests"]["score"]["draws"][0]["text"] for i in result["items"]]
    emit(
        {
            "benchmark": "harness_overhead",
            "model": label,
            "items": args.items,
            "new_tokens_max": args.max_new_tokens,
            "same_outputs_as_bare": [t.strip() for t in texts_bare] == [t.strip() for t in texts_harness],
            "seconds_bare_generate": round(min(t_bare), 3),
            "seconds_selfrat_evaluate": round(min(t_harness), 3),
            "seconds_backend_generate_only": round(min(t_gen), 3),
            "ratio_evaluate_over_bare": round(min(t_harness) / min(t_bare), 3),
            "ratio_generation_only_over_bare": round(min(t_gen) / min(t_bare), 3),
            "target_ratio": 1.10,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
