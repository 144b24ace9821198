"""Hugging Face transformers backend: batched, left-padded generation with N samples per prompt.

Design notes
- N samples per prompt: the batch's prompts are encoded ONCE (one forward pass over the prompts
  without their last token fills a KV cache), the cache is repeated N times
  (``batch_repeat_interleave``) and ``generate`` continues from it, so the N samples share one
  prefill. This is what plain ``num_return_sequences`` does not do (it re-encodes each prompt N
  times). Models whose cache cannot be repeated fall back to ``num_return_sequences``
  (``share_prompt_cache=False`` forces that path).
- Log-probs are the model's OWN token log-probabilities: ``log_softmax`` of the RAW logits (before
  repetition penalty, temperature and top-p), recorded by a logits processor that runs first. This
  is what best-of-N selection wants (the probability the model assigns to its judgment), and it
  costs one ``(batch, vocab)`` buffer instead of storing every step's scores. To guarantee it runs
  before any penalty, the repetition penalty is applied by our own processor right after it, then
  temperature and top-p, in the order of ``generate``'s own warpers. Top-p is
  ``top_p.TopKBoundedTopPWarper`` (the same kept set as transformers' warper, without sorting the
  whole vocabulary at every step: 0.93x the time of a SmolLM2 sampling batch on a 2-core CPU).
- One log-prob per generated text token; the stop token (EOS) and the padding after it are
  stripped from both ``text`` and ``token_logprobs``.
- Determinism: prompts are sorted by length (stable) and cut into batches; batch ``k`` samples
  under the seed ``SeedSequence([seed, k])`` inside ``torch.random.fork_rng`` so the caller's
  global RNG state is untouched. The same (model, prompts, n, sampling, seed, batch_size) gives the
  same samples.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..seeding import derive_seed
from .base import DEFAULT_SAMPLING, Prompt, Sample, SamplingConfig, check_sample_count
from .errors import ModelLoadError
from .top_p import TopKBoundedTopPWarper

DEFAULT_BATCH_SIZE = 16  # sequences (prompts x n) per ``generate`` call


def _looks_local(path: str) -> bool:
    """A filesystem path rather than a Hub id (``org/name`` has exactly one slash)."""
    return (
        path.startswith((".", "/", "~"))
        or path.count("/") > 1
        or path.endswith(".gguf")
        or Path(os.path.expanduser(path)).exists()
    )


def _resolve_dtype(dtype: Any) -> Any:
    if dtype is None or not isinstance(dtype, str) or dtype == "auto":
        return dtype
    import torch

    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r} (use e.g. float32, bfloat16, float16 or auto)")
    return value


@contextlib.contextmanager
def zero3_init_disabled() -> Iterator[None]:
    """Load models whole while a DeepSpeed ZeRO-3 trainer exists in this process.

    The first trainer of a ZeRO-3 launch registers its DeepSpeed config with transformers for the
    rest of the process; from then on every ``from_pretrained`` builds partitioned placeholder
    weights under ``deepspeed.zero.Init``, which needs every rank to load in step. A judge loaded
    for sampling, evaluation or margins (by one rank, or by each rank for its own shard) must be
    whole: the config is unregistered for the load and restored after it."""
    try:
        from transformers.integrations import deepspeed as hf_deepspeed
    except ImportError:  # pragma: no cover - transformers is a dependency of every caller
        yield
        return
    ref = hf_deepspeed._hf_deepspeed_config_weak_ref
    config = ref() if ref is not None else None
    if config is None or not config.is_zero3():
        yield
        return
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed.set_hf_deepspeed_config(config)


def eos_token_ids(*values: Any) -> set[int]:
    """Every end-of-sequence id named by the given ``eos_token_id`` values (an id, a list of ids
    or None: the generation config's and the tokenizer's). Generation stops on any of them (e.g.
    Llama 3.1 instruct: 128001, 128008, 128009), so each must be stripped from a sample's end."""
    ids: set[int] = set()
    for value in values:
        if value is None:
            continue
        ids.update(int(i) for i in (value if isinstance(value, (list, tuple)) else [value]))
    return ids


def _forward_last_logits(model: Any, **inputs: Any) -> Any:
    """``model(**inputs)`` computing logits for the last position only (``logits_to_keep=1``):
    the full ``batch x length x vocabulary`` tensor is ~20 GB for 32 prompts of 2,500 tokens with a
    128k vocabulary. Models whose forward has no ``logits_to_keep`` get the plain call."""
    try:
        return model(**inputs, logits_to_keep=1)
    except TypeError as err:
        if "logits_to_keep" not in str(err):
            raise
        return model(**inputs)


def load_hf_model(
    model: str | os.PathLike[str],
    *,
    tokenizer: str | os.PathLike[str] | None = None,
    adapter: str | os.PathLike[str] | None = None,
    gguf_file: str | None = None,
    device: str | None = None,
    dtype: Any = None,
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
) -> tuple[Any, Any]:
    """Load (model, tokenizer) from a local directory, a ``.gguf`` file or a Hub id.

    Raises ``ModelLoadError`` naming the path when anything is missing or unreadable.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(model)
    expanded = os.path.expanduser(path)
    if gguf_file is None and expanded.endswith(".gguf") and Path(expanded).is_file():
        # A direct path to a GGUF file: transformers wants the folder plus the file name.
        expanded, gguf_file = str(Path(expanded).parent), Path(expanded).name
    if _looks_local(path) and not Path(expanded).exists():
        raise ModelLoadError(f"judge model path does not exist: {path}")
    if Path(expanded).is_dir() and gguf_file is None and not (Path(expanded) / "config.json").is_file():
        if (Path(expanded) / "adapter_config.json").is_file():
            raise ModelLoadError(
                f"{path} holds a PEFT adapter, not a model: pass the base model as the judge and "
                f"this folder as the adapter (--adapter {path})"
            )
        raise ModelLoadError(f"{path} is not a model folder (no config.json)")
    if gguf_file is not None and Path(expanded).is_dir() and not (Path(expanded) / gguf_file).is_file():
        raise ModelLoadError(f"GGUF file {gguf_file!r} not found in {path}")

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    resolved_dtype = _resolve_dtype(dtype)
    try:
        tok_source = os.path.expanduser(str(tokenizer)) if tokenizer is not None else expanded
        tok_kwargs = dict(kwargs) if tokenizer is None else {"trust_remote_code": trust_remote_code}
        tok = AutoTokenizer.from_pretrained(tok_source, **tok_kwargs)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path named
        raise ModelLoadError(f"cannot load the tokenizer of {tokenizer or path}: {exc}") from exc
    try:
        model_kwargs = dict(kwargs)
        if resolved_dtype is not None:
            model_kwargs["dtype"] = resolved_dtype
        with zero3_init_disabled():  # a whole judge per process, never ZeRO-3 partitions
            lm = AutoModelForCausalLM.from_pretrained(expanded, **model_kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot load judge model {path}: {exc}") from exc
    if adapter is not None:
        adapter_path = os.path.expanduser(str(adapter))
        if _looks_local(str(adapter)) and not (Path(adapter_path) / "adapter_config.json").is_file():
            raise ModelLoadError(f"adapter folder {adapter} has no adapter_config.json")
        try:
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, adapter_path)
            if merge_adapter:
                lm = lm.merge_and_unload()  # plain model: faster generation, same outputs
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"cannot load adapter {adapter} onto {path}: {exc}") from exc
    lm.to(device or _default_device())
    lm.eval()
    return lm, tok


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of one prompt: chat messages go through the chat template (generation prompt
    appended, no extra special tokens, since the template has them); plain strings are tokenized
    with the tokenizer's special tokens."""
    if isinstance(prompt, str):
        return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    messages = [dict(m) for m in prompt]
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "chat-message prompts need a tokenizer with a chat template; pass plain-text prompts "
            "or a model that has one"
        )
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _generate_cache_kwarg(model: Any) -> str:
    """``generate``'s name for a pre-filled KV cache: ``cache`` in recent transformers (which
    deprecates ``past_key_values``), ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.generate).parameters else "past_key_values"


class _LogprobRecorder:
    """Logits processor that records log p(token) under the raw logits, one step behind.

    At step t the newly appended token of step t-1 is visible in ``input_ids``; it is looked up in
    the previous step's log-softmax, so only one ``(batch, vocab)`` buffer is kept.
    """

    def __init__(self) -> None:
        self.prev: Any = None
        self.steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.prev is not None:
            self.steps.append(self.prev.gather(1, input_ids[:, -1:]).squeeze(1))
        self.prev = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def finish(self, generated: Any) -> Any:
        """(batch, T) log-probs of ``generated`` (the new tokens, T >= 1)."""
        import torch

        if self.prev is not None and generated.shape[1] > len(self.steps):
            # generated may already be on the CPU while the scores are still on the GPU
            self.steps.append(self.prev.gather(1, generated[:, -1:].to(self.prev.device)).squeeze(1))
        self.prev = None
        if not self.steps:
            return torch.zeros(generated.shape[0], 0)
        return torch.stack(self.steps[: generated.shape[1]], dim=1).cpu()


class HFBackend:
    """``GenerationBackend`` over a transformers causal LM (path, Hub id, GGUF or in-memory model).

    ``batch_size`` counts sequences, so one ``generate`` call holds ``max(1, batch_size // n)``
    prompts times ``n`` samples. An in-memory ``PreTrainedModel`` (e.g. the policy being trained)
    is used as is: not moved unless ``device`` is given, switched to eval mode during generation
    and restored afterwards.
    """

    name = "hf"

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        adapter: str | os.PathLike[str] | None = None,
        gguf_file: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        dtype: Any = None,
        trust_remote_code: bool = False,
        logprobs: bool = True,
        model_id: str | None = None,
        show_progress: bool = False,
        share_prompt_cache: bool = True,
        ignore_eos: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(model, (str, os.PathLike)):
            tok_path = tokenizer if isinstance(tokenizer, (str, os.PathLike)) else None
            self.model, loaded_tok = load_hf_model(
                model,
                tokenizer=tok_path,
                adapter=adapter,
                gguf_file=gguf_file,
                device=device,
                dtype=dtype,
                trust_remote_code=trust_remote_code,
            )
            self.tokenizer = tokenizer if tokenizer is not None and tok_path is None else loaded_tok
            base_id = str(model)
        else:
            if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
                from transformers import AutoTokenizer

                source = tokenizer or getattr(model, "name_or_path", None)
                if not source:
                    raise ModelLoadError("an in-memory model needs its tokenizer (tokenizer=...)")
                try:
                    tokenizer = AutoTokenizer.from_pretrained(str(source))
                except Exception as exc:  # noqa: BLE001
                    raise ModelLoadError(f"cannot load the tokenizer from {source}: {exc}") from exc
            if adapter is not None:
                try:
                    from peft import PeftModel

                    model = PeftModel.from_pretrained(model, os.path.expanduser(str(adapter)))
                except Exception as exc:  # noqa: BLE001
                    raise ModelLoadError(f"cannot load adapter {adapter}: {exc}") from exc
            if device is not None:
                model.to(device)
            self.model, self.tokenizer = model, tokenizer
            base_id = str(getattr(model, "name_or_path", "") or type(model).__name__)
        parts = [base_id]
        if gguf_file:
            parts.append(f"gguf={gguf_file}")
        if adapter:
            parts.append(f"adapter={adapter}")
        self.model_id = model_id or "::".join(parts)
        self.batch_size = batch_size
        self.logprobs = logprobs
        self.show_progress = show_progress
        self.share_prompt_cache = share_prompt_cache
        self.ignore_eos = ignore_eos  # throughput benchmarks: always generate max_new_tokens

    # ---- prompt handling ---------------------------------------------------------------------

    @property
    def numerics(self) -> str:
        """Engine, weight dtype and device: part of the generation cache's judge identity, so
        judgments made in CPU float32 are not served to a GPU bfloat16 run of the same judge."""
        param = next(self.model.parameters())
        return f"hf:{str(param.dtype).removeprefix('torch.')}:{param.device.type}"

    def encode(self, prompt: Prompt) -> list[int]:
        return encode_prompt(self.tokenizer, prompt)

    def _stop_ids(self) -> set[int]:
        return eos_token_ids(
            getattr(getattr(self.model, "generation_config", None), "eos_token_id", None),
            getattr(self.tokenizer, "eos_token_id", None),
        )

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        if pad is None:
            stops = sorted(self._stop_ids())
            if not stops:
                raise ValueError("the tokenizer has neither a pad nor an EOS token")
            pad = stops[0]
        return int(pad)

    @property
    def max_context(self) -> int | None:
        """Context length of the model (prompt + generation), when its config says."""
        value = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return int(value) if value else None

    # ---- generation --------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        sampling: SamplingConfig = DEFAULT_SAMPLING,
        seed: int = 0,
    ) -> list[list[Sample]]:
        check_sample_count(n)
        if sampling.greedy and n > 1:
            raise ValueError("greedy decoding (temperature <= 0) gives one sample per prompt; use n=1")
        if not prompts:
            return []
        encoded = [self.encode(p) for p in prompts]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        per_batch = max(1, self.batch_size // n)
        batches = [order[i : i + per_batch] for i in range(0, len(order), per_batch)]
        results: list[list[Sample] | None] = [None] * len(prompts)
        progress = None
        if self.show_progress:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(prompts), desc="generate", unit="prompt")
        was_training = bool(getattr(self.model, "training", False))
        self.model.eval()
        try:
            for k, idx in enumerate(batches):
                samples = self._generate_batch([encoded[i] for i in idx], n, sampling, derive_seed(seed, k))
                for i, s in zip(idx, samples, strict=True):
                    results[i] = s
                if progress is not None:
                    progress.update(len(idx))
        finally:
            if was_training:
                self.model.train()
            if progress is not None:
                progress.close()
        return [r for r in results if r is not None]

    def next_token_logprobs(
        self, prompts: Sequence[Prompt], prefixes: Sequence[str], k: int = 20
    ) -> list[dict[str, float]]:
        """Top-``k`` log-probs of the token that follows ``prompt + prefix``, one dict per prompt
        (token text -> log-prob under the raw logits; see ``top_token_texts``).

        For expected-score judging: with ``prefix`` = a judgment up to ``"[RESULT] "``, the dict
        gives p("1") .. p("5"). One forward pass per batch of ``batch_size`` sequences (left
        padded, explicit position ids), ``log_softmax`` of the last position. The prompt is encoded
        as in ``generate`` (chat template for messages) and the prefix is appended as its own
        tokens (``prefix_ids``), exactly as the vLLM backend does.
        """
        import torch

        if len(prompts) != len(prefixes):
            raise ValueError(f"{len(prompts)} prompts but {len(prefixes)} prefixes")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        seqs = [prefix_ids(self.tokenizer, p, x) for p, x in zip(prompts, prefixes, strict=True)]
        device = next(self.model.parameters()).device
        pad_id = self._pad_id()
        results: list[dict[str, float]] = []
        was_training = bool(getattr(self.model, "training", False))
        self.model.eval()
        try:
            for start in range(0, len(seqs), self.batch_size):
                batch = seqs[start : start + self.batch_size]
                width = max(len(ids) for ids in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                for row, ids in enumerate(batch):
                    input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                    attention[row, width - len(ids) :] = 1
                positions = (attention.cumsum(-1) - 1).clamp(min=0)
                with torch.inference_mode():
                    logits = _forward_last_logits(
                        self.model,
                        input_ids=input_ids.to(device),
                        attention_mask=attention.to(device),
                        position_ids=positions.to(device),
                        use_cache=False,
                    ).logits[:, -1, :]
                logps = torch.log_softmax(logits.float(), dim=-1).cpu()
                top = torch.topk(logps, min(k, logps.shape[-1]), dim=-1)
                for values, ids in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    results.append(top_token_texts(self.tokenizer, list(zip(ids, values, strict=True)), k))
        finally:
            if was_training:
                self.model.train()
        return results

    def _shared_prompt_cache(self, input_ids: Any, attention: Any, n: int) -> Any:
        """KV cache of the prompts minus their last token, repeated ``n`` times; None if this
        model's cache cannot be repeated (then ``num_return_sequences`` re-encodes instead)."""
        positions = (attention.cumsum(-1) - 1).clamp(min=0)  # what generate uses with left padding
        try:
            out = _forward_last_logits(
                self.model,
                input_ids=input_ids[:, :-1],
                attention_mask=attention[:, :-1],
                position_ids=positions[:, :-1],
                use_cache=True,
            )
            cache = out.past_key_values
            cache.batch_repeat_interleave(n)
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            return None
        return cache

    def _generation_config(self, sampling: SamplingConfig, n: int, returns: int) -> Any:
        from transformers import GenerationConfig

        stops = sorted(self._stop_ids())
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "num_return_sequences": returns,
            "pad_token_id": self._pad_id(),
            "eos_token_id": stops or None,
            "repetition_penalty": 1.0,  # applied by our own processor, after the log-prob recorder
        }
        if self.ignore_eos:
            # generate falls back to the model's EOS when given none, so forbid stopping instead
            # (EOS logits are masked before our recorder: log-probs exclude the stop mass then)
            kwargs["min_new_tokens"] = sampling.max_new_tokens
        if sampling.greedy:
            kwargs.update(do_sample=False)
        else:
            # temperature and top-p are our processors (``_sampling_processors``): transformers'
            # top-p warper sorts the whole vocabulary at every step
            kwargs.update(do_sample=True, temperature=1.0, top_p=1.0, top_k=0)
        return GenerationConfig(**kwargs)

    @staticmethod
    def _sampling_processors(sampling: SamplingConfig) -> list[Any]:
        """Temperature, then top-p, after the log-prob recorder and the repetition penalty (the
        order of transformers' own warpers)."""
        from transformers import TemperatureLogitsWarper

        if sampling.greedy:
            return []
        processors: list[Any] = []
        if sampling.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_p < 1.0:
            processors.append(TopKBoundedTopPWarper(sampling.top_p))
        return processors

    def _generate_batch(
        self, batch: list[list[int]], n: int, sampling: SamplingConfig, seed: int
    ) -> list[list[Sample]]:
        import torch
        from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

        pad_id = self._pad_id()
        width = max(len(ids) for ids in batch)
        device = next(self.model.parameters()).device
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):  # left padding: the prompt ends where generation starts
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        processors = LogitsProcessorList()
        recorder = _LogprobRecorder() if self.logprobs else None
        if recorder is not None:
            processors.append(recorder)
        if sampling.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
        processors.extend(self._sampling_processors(sampling))
        cuda = [device.index or 0] if device.type == "cuda" else []
        input_ids, attention = input_ids.to(device), attention.to(device)
        config_n = n
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            kwargs: dict[str, Any] = {}
            if n > 1 and self.share_prompt_cache and min(len(ids) for ids in batch) > 1:
                cache = self._shared_prompt_cache(input_ids, attention, n)
                if cache is not None:
                    input_ids = input_ids.repeat_interleave(n, dim=0)
                    attention = attention.repeat_interleave(n, dim=0)
                    kwargs[_generate_cache_kwarg(self.model)] = cache
                    config_n = 1
            torch.manual_seed(seed)
            sequences = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                generation_config=self._generation_config(sampling, n, config_n),
                logits_processor=processors,
                **kwargs,
            )
        generated = sequences[:, width:].cpu()
        logprobs = recorder.finish(generated) if recorder is not None and generated.shape[1] else None
        stops = set() if self.ignore_eos else self._stop_ids()
        out: list[list[Sample]] = []
        for p in range(len(batch)):
            group = []
            for j in range(n):
                row = p * n + j
                tokens = generated[row].tolist()
                end = next((t for t, tok in enumerate(tokens) if tok in stops), None)
                finish = "stop" if end is not None else "length"
                keep = tokens[:end] if end is not None else tokens
                text = self.tokenizer.decode(keep, skip_special_tokens=True)
                lps = tuple(float(x) for x in logprobs[row, : len(keep)]) if logprobs is not None else None
                if lps is None and self.logprobs:
                    lps = ()
                group.append(Sample(text=text, token_logprobs=lps, finish_reason=finish))
            out.append(group)
        return out


def prefix_ids(tokenizer: Any, prompt: Prompt, prefix: str) -> list[int]:
    """Token ids of ``prompt`` (as ``encode_prompt``) followed by ``prefix`` tokenized on its own
    (no special tokens): the sequence whose next token ``next_token_logprobs`` scores. Shared by the
    HF and vLLM backends so both score exactly the same ids."""
    ids = encode_prompt(tokenizer, prompt)
    if prefix:
        ids += list(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    return ids


def top_token_texts(tokenizer: Any, ranked: Sequence[tuple[int, float]], k: int) -> dict[str, float]:
    """``{token text: logprob}`` of the ``k`` best (token id, logprob) pairs. Texts are
    ``tokenizer.decode([id])`` (so ``" 4"`` keeps its leading space); ids that decode to the same
    text are merged by adding their probabilities, so the dict may hold fewer than ``k`` keys."""

    out: dict[str, float] = {}
    for token_id, lp in sorted(ranked, key=lambda x: -x[1])[:k]:
        text = tokenizer.decode([int(token_id)])
        if text in out:
            hi, lo = max(out[text], lp), min(out[text], lp)
            out[text] = hi + math.log1p(math.exp(lo - hi))
        else:
            out[text] = float(lp)
    return out

