"""``selfrat-judge``: any lm-eval model, with the log-probs that two strategies need.

``--model selfrat-judge --model_args base=hf,pretrained=...`` wraps the ``base`` model (any
registered lm-eval model; the other model args go to it). Generation is the base model's; for the
judgments of selfrat docs it attaches what lm-eval's ``generate_until`` cannot return:

- best-of-N (``*_bon`` tasks): the mean token log-prob of each sampled judgment — from the base
  model's ``loglikelihood`` of the judgment given the prompt (hf, vllm, completions APIs), or, for
  chat-completions APIs, from the log-probs the server returns with the generation;
- expected-score (``*_es`` tasks): the top next-token log-probs at the judgment's scoring point
  (after its last ``[RESULT]``, or after an appended marker when it has none) — from
  ``loglikelihood`` of each verdict continuation, or for chat APIs from a continuation request
  (vLLM's ``continue_final_message``).

What is attached is read by the task (:func:`~.task.as_draw`); the decision stays the protocol's.
Without this wrapper, ``*_bon`` tasks take the protocol's documented majority fallback (counted in
``n_bon_fallback``) and ``*_es`` items fail as ``no_score_probs``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import lm_eval.models  # noqa: F401  -- registers the built-in models before we register ours
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import get_model, model_registry
from lm_eval.utils import simple_parse_args_string

from ..protocols.expected import TOP_K, read_verdicts, scoring_prefix, verdict_logprobs
from ..protocols.strategy import verdict_levels
from .discovery import JUDGE_MODEL_NAME

log = logging.getLogger(__name__)


class JudgeText(str):
    """A generated judgment plus the log-probs the protocol's strategies read."""

    mean_logprob: float | None
    score_logprobs: dict[str, float] | None
    forced: bool

    def __new__(
        cls,
        text: str,
        *,
        mean_logprob: float | None = None,
        score_logprobs: dict[str, float] | None = None,
        forced: bool = False,
    ) -> JudgeText:
        obj = super().__new__(cls, text)
        obj.mean_logprob = mean_logprob
        obj.score_logprobs = score_logprobs
        obj.forced = forced
        return obj


def _is_judge_doc(doc: Any) -> bool:
    return isinstance(doc, dict) and "requests" in doc and "strategy" in doc


def _request_of(req: Instance) -> dict[str, Any]:
    return req.doc["requests"][req.idx]


def _chat_messages(ctx: Any) -> list[dict[str, Any]] | None:
    """The chat messages of an API chat context (lm-eval's ``JsonChatStr``), else None."""
    prompt = getattr(ctx, "prompt", None)
    if isinstance(prompt, str):
        try:
            messages = json.loads(prompt)
        except json.JSONDecodeError:
            return None
        return messages if isinstance(messages, list) else None
    return None


class SelfratJudge(LM):
    """Wraps another lm-eval model; see the module docstring."""

    def __init__(self, base: LM) -> None:
        super().__init__()
        self.base = base
        self._captured: dict[str, float] = {}  # generated text -> mean log-prob (chat APIs)
        parse = getattr(base, "parse_generations", None)
        if callable(parse) and _chat_api(base):
            self._wrap_parse_generations(parse)

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> SelfratJudge:
        args = simple_parse_args_string(arg_string) if isinstance(arg_string, str) else dict(arg_string or {})
        return cls.create_from_arg_obj(args, additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None) -> SelfratJudge:
        args = dict(arg_dict)
        base_name = str(args.pop("base", "hf"))
        if base_name == JUDGE_MODEL_NAME:
            raise ValueError(f"{JUDGE_MODEL_NAME}: base must be another model (e.g. hf, vllm, local-chat-completions)")
        base = get_model(base_name).create_from_arg_obj(args, additional_config)
        return cls(base)

    # ---- delegation ----------------------------------------------------------------------------
    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        return self.base.loglikelihood(requests)

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        return self.base.loglikelihood_rolling(requests)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> Any:
        return self.base.apply_chat_template(chat_history, add_generation_prompt=add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return self.base.tokenizer_name

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.base.chat_template(chat_template)

    @property
    def rank(self) -> int:
        return self.base.rank

    @property
    def world_size(self) -> int:
        return self.base.world_size

    def __getattr__(self, name: str) -> Any:  # device, batch_sizes, get_model_info, ...
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    # ---- chat APIs: log-probs come back with the generation --------------------------------------
    def _wrap_parse_generations(self, parse: Any) -> None:
        captured = self._captured

        def parse_with_logprobs(outputs: Any, **kwargs: Any) -> list[str]:
            texts = parse(outputs=outputs, **kwargs)
            for out in outputs if isinstance(outputs, list) else [outputs]:
                for choice in (out or {}).get("choices") or []:
                    content = ((choice.get("logprobs") or {}).get("content")) or []
                    message = (choice.get("message") or {}).get("content")
                    if content and message is not None:
                        captured[message] = sum(float(t["logprob"]) for t in content) / len(content)
            return texts

        self.base.parse_generations = parse_with_logprobs  # instance override of the documented hook

    # ---- generation ----------------------------------------------------------------------------
    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        chat_api = _chat_api(self.base)
        calls = []
        for req in requests:
            if chat_api and _is_judge_doc(req.doc) and req.doc["strategy"] == "best-of-n":
                ctx, gen_kwargs = req.args[0], dict(req.args[1])
                gen_kwargs["logprobs"] = True  # sent in the payload; the answer carries them
                req = Instance("generate_until", req.doc, (ctx, gen_kwargs), req.idx, req.metadata)
            calls.append(req)
        texts = self.base.generate_until(calls, disable_tqdm=disable_tqdm)
        out: list[str] = []
        for req, text in zip(requests, texts, strict=True):
            if not _is_judge_doc(req.doc):
                out.append(text)
                continue
            strategy = req.doc["strategy"]
            if strategy == "best-of-n":
                out.append(JudgeText(text, mean_logprob=self._mean_logprob(req, text, chat_api)))
            elif strategy == "expected-score":
                prefix, forced = scoring_prefix(text)
                scores = self._scoring_point(req, prefix, chat_api)
                out.append(JudgeText(text, score_logprobs=scores, forced=forced))
            else:
                out.append(JudgeText(text))
        return out

    def _mean_logprob(self, req: Instance, text: str, chat_api: bool) -> float | None:
        if chat_api:
            return self._captured.get(text)
        if not text:
            return None
        ll = self._loglikelihoods([(req.args[0], text)])
        if ll is None:
            return None
        n_tokens = max(1, len(self.base.tok_encode(text))) if hasattr(self.base, "tok_encode") else max(1, len(text.split()))
        return ll[0] / n_tokens

    def _scoring_point(self, req: Instance, prefix: str, chat_api: bool) -> dict[str, float] | None:
        request = _request_of(req)
        levels = verdict_levels(request["mode"], (int(request["scale_low"]), int(request["scale_high"])))
        ctx = req.args[0]
        if chat_api:
            messages = _chat_messages(ctx)
            if messages is None:
                return None
            return read_verdicts(lambda p: self._continuation(messages, p), prefix, levels)
        # loglikelihood scores the whole continuation, whitespace token included (exact chain rule)
        continuations = [f" {v}" for v in levels]
        lls = self._loglikelihoods([(str(ctx) + prefix, c) for c in continuations])
        return None if lls is None else verdict_logprobs(dict(zip(continuations, lls, strict=True)), levels)

    def _loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> list[float] | None:
        try:
            results = self.base.loglikelihood(
                [Instance("loglikelihood", None, (ctx, cont), 0) for ctx, cont in pairs]  # type: ignore[arg-type]
            )
        except NotImplementedError:
            return None
        return [float(ll) for ll, _ in results]

    def _continuation(self, messages: list[dict[str, Any]], prefix: str) -> dict[str, float] | None:
        """Top next tokens after an assistant prefix, through the API model's own request path."""
        from lm_eval.models.api_models import JsonChatStr

        payload_messages = [*messages, {"role": "assistant", "content": prefix}]
        gen_kwargs = {
            "max_gen_toks": 1,
            "temperature": 0.0,
            "until": [],
            "logprobs": True,
            "top_logprobs": TOP_K,
            "continue_final_message": True,
            "add_generation_prompt": False,
        }
        try:
            response = self.base.model_call(
                messages=[JsonChatStr(json.dumps(payload_messages))], generate=True, gen_kwargs=gen_kwargs
            )
        except Exception as exc:  # noqa: BLE001 - a server without the extension: counted, not fatal
            log.warning("selfrat-judge: continuation request failed (%s); the item counts as no_score_probs", exc)
            return None
        choices = (response or {}).get("choices") or [{}]
        content = ((choices[0].get("logprobs") or {}).get("content")) or []
        if not content:
            return None
        return {str(t["token"]): float(t["logprob"]) for t in content[0].get("top_logprobs") or []}


def _chat_api(model: Any) -> bool:
    """An lm-eval chat-completions API model (no loglikelihood, JSON chat contexts)."""
    from lm_eval.models.openai_completions import LocalChatCompletion

    return isinstance(model, LocalChatCompletion)


if JUDGE_MODEL_NAME not in model_registry:
    model_registry.register(JUDGE_MODEL_NAME, target=f"{__name__}:SelfratJudge")
