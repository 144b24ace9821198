"""GPU throughput: judgments per second of a Llama-3.1-8B-architecture judge through vLLM and HF.

Needs a CUDA GPU (about 20 GB for bf16 weights + KV cache); vLLM is optional (its arm is skipped
when it is not installed). Random weights are fine for throughput: the model is built from the
Llama-3.1-8B configuration (32 layers, hidden 4096, 32 heads / 8 KV heads, FFN 14336, vocab
128256) with random bf16 weights, no download. Output length is fixed (EOS ignored), so every
judgment is exactly ``--max-new-tokens`` tokens.

    python benchmarks/bench_gpu_throughput.py --prompts 64 --n 8 --max-new-tokens 256 \
        [--backends hf vllm] [--hf-batch-size 64] [--out gpu.json]

Reports, per backend: seconds, judgments/s (= prompts x n / seconds) and generated tokens/s.
Prompts are Prometheus absolute-grading prompts rendered with the chat template of the project's
tiny tokenizer (its 512 ids are valid ids of the 128256-token model), ~``--words`` long responses.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from _runner_common import emit, grading_items, grading_messages

from selfrat_eval.generation.base import SamplingConfig

LLAMA_31_8B = dict(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=8192,
    rope_theta=500000.0,
    rms_norm_eps=1e-5,
    tie_word_embeddings=False,
)


def build_model_dir(out: Path) -> Path:
    """config.json (Llama-3.1-8B shape) + a small tokenizer with a chat template; no weights."""
    from transformers import LlamaConfig

    from selfrat_eval.tiny_model import build_tiny_llama

    build_tiny_llama(out, seed=0, max_positions=8192)  # writes the tokenizer (and a tiny model we overwrite)
    for f in out.glob("*.safetensors"):
        f.unlink()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    LlamaConfig(
        **LLAMA_31_8B,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    ).save_pretrained(out)
    return out


def run_hf(model_dir: Path, prompts, n: int, sampling: SamplingConfig, batch_size: int) -> float:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from selfrat_eval.generation.hf import HFBackend

    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)  # random weights
    model.eval()
    backend = HFBackend(
        model, AutoTokenizer.from_pretrained(model_dir), batch_size=batch_size, ignore_eos=True
    )
    backend.generate(prompts[:1], n=1, sampling=SamplingConfig(max_new_tokens=4), seed=0)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    backend.generate(prompts, n=n, sampling=sampling, seed=0)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    del backend, model
    torch.cuda.empty_cache()
    return seconds


def run_vllm(model_dir: Path, prompts, n: int, sampling: SamplingConfig) -> float:
    from selfrat_eval.generation.vllm import VLLMBackend

    backend = VLLMBackend(
        str(model_dir),
        load_format="dummy",
        dtype="bfloat16",
        ignore_eos=True,
        max_model_len=8192,
        gpu_memory_utilization=0.85,
    )
    backend.generate(prompts[:1], n=1, sampling=SamplingConfig(max_new_tokens=4), seed=0)  # warm-up
    start = time.perf_counter()
    backend.generate(prompts, n=n, sampling=sampling, seed=0)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--words", type=int, default=150)
    ap.add_argument("--backends", nargs="+", default=["vllm", "hf"], choices=["vllm", "hf"])
    ap.add_argument("--hf-batch-size", type=int, default=64, help="sequences per HF generate call")
    ap.add_argument("--out")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu_throughput.py needs a CUDA GPU")
    model_dir = build_model_dir(Path(tempfile.mkdtemp(prefix="llama31-8b-shape-")))
    prompts = grading_messages(grading_items(args.prompts, args.words))
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens)
    from transformers import AutoTokenizer

    from selfrat_eval.generation.hf import encode_prompt

    tok = AutoTokenizer.from_pretrained(model_dir)
    prompt_tokens = sum(len(encode_prompt(tok, p)) for p in prompts) / len(prompts)
    judgments = args.prompts * args.n
    result: dict = {
        "benchmark": "gpu_judgments_per_second",
        "model": "Llama-3.1-8B architecture, random bf16 weights",
        "gpu": torch.cuda.get_device_name(0),
        "prompts": args.prompts,
        "n": args.n,
        "mean_prompt_tokens": round(prompt_tokens, 1),
        "new_tokens_per_judgment": args.max_new_tokens,
        "backends": {},
    }
    for name in args.backends:
        if name == "vllm" and importlib.util.find_spec("vllm") is None:
            result["backends"]["vllm"] = {"skipped": "vllm not installed"}
            continue
        seconds = (
            run_vllm(model_dir, prompts, args.n, sampling)
            if name == "vllm"
            else run_hf(model_dir, prompts, args.n, sampling, args.hf_batch_size)
        )
        result["backends"][name] = {
            "seconds": round(seconds, 3),
            "judgments_per_second": round(judgments / seconds, 2),
            "generated_tokens_per_second": round(judgments * args.max_new_tokens / seconds, 1),
        }
    emit(result, args.out)


if __name__ == "__main__":
    main()
