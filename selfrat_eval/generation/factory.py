"""``load_backend(name, model, **kw)``: build a generation backend by name, importing it lazily."""

from __future__ import annotations

from typing import Any

from .base import GenerationBackend

BACKENDS = ("hf", "vllm", "openai")


def load_backend(name: str, model: Any, **kwargs: Any) -> GenerationBackend:
    """``hf``: transformers (path, Hub id, GGUF or in-memory model); ``vllm``: vLLM engine;
    ``openai``: an OpenAI-compatible HTTP server (``model`` is the served model name,
    ``base_url=`` the server). Keyword arguments go to the backend's constructor."""
    if name == "hf":
        from .hf import HFBackend

        return HFBackend(model, **kwargs)
    if name == "vllm":
        from .vllm import VLLMBackend

        return VLLMBackend(model, **kwargs)
    if name == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(model, **kwargs)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
