"""One generation interface for evaluation and training: N samples per prompt with log-probs.

Backends live in their own modules (``hf``, ``vllm``, ``openai``) and import their heavy
dependencies lazily; ``load_backend(name, model, **kw)`` builds one by name.
"""

from .base import GenerationBackend, Prompt, Sample, SamplingConfig
from .errors import BackendError, ModelLoadError
from .factory import BACKENDS, BackendConfig, build_backend, load_backend

__all__ = [
    "BACKENDS",
    "BackendConfig",
    "BackendError",
    "GenerationBackend",
    "ModelLoadError",
    "Prompt",
    "Sample",
    "SamplingConfig",
    "build_backend",
    "load_backend",
]
