"""Self-sampling: N judgments per training input from the current judge, written incrementally.

``samples.jsonl`` holds one line per input. Inputs are cut into fixed batches of
``sampling.batch_size`` prompts; batch ``k`` is generated under a seed derived from (seed, k) and
its lines are appended and flushed together. A killed run leaves complete batches plus perhaps a
partial one; on restart the partial batch is dropped and generation continues at the next batch,
so the final file equals an uninterrupted run's with the same seed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..generation.base import GenerationBackend, Prompt, SamplingConfig
from ..generation.factory import BackendConfig, resolve_backend_name
from ..parsing import parse_judgment
from ..seeding import derive_seed
from . import faults
from .config import SamplingStageConfig, TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    """One prompt to sample: ``key`` identifies it in the output, ``extra`` is copied to its line."""

    key: str
    prompt: Prompt
    extra: dict[str, Any]
    scale: tuple[int, int] = (1, 5)


def sampling_config(cfg: SamplingStageConfig) -> SamplingConfig:
    return SamplingConfig(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens,
        repetition_penalty=cfg.repetition_penalty,
    )


def _complete_batches(path: Path, batches: list[list[Unit]]) -> int:
    """Number of leading batches fully present in ``path``; rewrites the file without the rest."""
    if not path.exists():
        return 0
    lines: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            if not raw.endswith("\n"):
                break  # torn write: the process died mid-line
            try:
                json.loads(raw)
            except json.JSONDecodeError:
                break
            lines.append(raw)
    done, pos = 0, 0
    for batch in batches:
        chunk = lines[pos : pos + len(batch)]
        if len(chunk) < len(batch) or [json.loads(c)["key"] for c in chunk] != [u.key for u in batch]:
            break
        done += 1
        pos += len(batch)
    if pos != len(lines) or _size_differs(path, lines[:pos]):
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(lines[:pos]), encoding="utf-8")
        tmp.replace(path)
        log.info("%s: kept %d complete batches, dropped a partial one", path, done)
    return done


def _size_differs(path: Path, lines: list[str]) -> bool:
    return path.stat().st_size != sum(len(s.encode("utf-8")) for s in lines)


def sample_units(
    units: Sequence[Unit],
    backend: GenerationBackend | Callable[[], GenerationBackend],
    path: Path,
    *,
    n: int,
    sampling: SamplingConfig,
    seed: int,
    batch_size: int,
    desc: str = "sampling",
    fault_stage: str = "sample",
) -> Path:
    """Sample ``n`` judgments per unit into ``path`` (resumable; see the module docstring).

    ``backend`` may be a factory so a finished file never loads the model.
    """
    from tqdm.auto import tqdm

    batches = [list(units[i : i + batch_size]) for i in range(0, len(units), batch_size)]
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _complete_batches(path, batches)
    if done == len(batches):
        path.touch()
        return path
    gen = backend() if callable(backend) and not isinstance(backend, GenerationBackend) else backend
    written = 0
    with path.open("a", encoding="utf-8") as fh, tqdm(
        total=len(units), initial=sum(len(b) for b in batches[:done]), desc=desc, unit="input"
    ) as bar:
        for k in range(done, len(batches)):
            batch = batches[k]
            outs = gen.generate([u.prompt for u in batch], n=n, sampling=sampling, seed=derive_seed(seed, k))
            if len(outs) != len(batch) or any(len(o) != n for o in outs):
                raise RuntimeError(f"{getattr(gen, 'name', gen)}: expected {n} samples for each of {len(batch)} prompts")
            chunk = []
            for unit, samples in zip(batch, outs, strict=True):
                parsed = []
                for s in samples:
                    j = parse_judgment(s.text, scale=unit.scale)
                    parsed.append(
                        {
                            "text": s.text,
                            "score": j.score,
                            "rationale": j.rationale if j.ok else None,
                            "error": j.error,
                            "mean_logprob": None if s.token_logprobs is None or not s.token_logprobs else s.mean_logprob,
                            "finish_reason": s.finish_reason,
                        }
                    )
                chunk.append(json.dumps({"key": unit.key, "batch": k, **unit.extra, "samples": parsed}) + "\n")
            fh.write("".join(chunk))
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(batch))
            written += 1
            faults.check(fault_stage, written)
    if gen is not backend:  # we built it: release its memory (GPU) before the next stage trains
        for method in ("close", "shutdown"):
            if callable(getattr(gen, method, None)):
                getattr(gen, method)()
                break
        del gen
    return path


def backend_config(cfg: TrainConfig, gguf_file: str | None = None) -> BackendConfig:
    """The shared backend factory's settings for a training run (``build_backend(path, ...)``):
    vLLM when asked for (or ``auto`` with vLLM installed and a GPU), else transformers."""
    from .modeling import resolve_dtype, use_cpu

    s = cfg.sampling
    cpu = use_cpu(cfg)
    name = resolve_backend_name(s.backend, cpu_only=cpu)
    if s.dtype is not None:
        dtype = s.dtype
    else:
        dtype = cfg.model.dtype if name == "vllm" else str(resolve_dtype(cfg)).removeprefix("torch.")
    return BackendConfig(
        name=name,
        gguf_file=gguf_file,
        dtype=dtype,
        device="cpu" if cpu else None,
        batch_size=s.hf_batch_size,
        tensor_parallel_size=s.tensor_parallel_size,
        gpu_memory_utilization=s.gpu_memory_utilization,
        max_model_len=s.max_model_len,
        trust_remote_code=cfg.model.trust_remote_code,
    )


def read_samples(path: Path) -> list[dict[str, Any]]:
    from .data import read_jsonl

    return list(read_jsonl(path))
