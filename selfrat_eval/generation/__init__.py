"""One generation interface for evaluation and training: N samples per prompt with log-probs.

Backends live in their own modules (``hf``, ``vllm``, ``openai``) and import their heavy
dependencies lazily.
"""

from .base import GenerationBackend, Prompt, Sample, SamplingConfig

__all__ = ["GenerationBackend", "Prompt", "Sample", "SamplingConfig"]
