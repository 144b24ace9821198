"""OpenAI-compatible HTTP backend (a vLLM/TGI/llama.cpp server, or a hosted API judge baseline).

String prompts go to ``POST {base_url}/completions``, chat messages to ``/chat/completions``. Only
the standard library is used (``urllib``), so the backend has no extra dependency.

- ``n`` samples per prompt are asked for in one request; servers that return fewer choices (some
  ignore ``n``) are asked again for the rest under a derived seed, so every prompt gets exactly n.
- ``seed`` is sent per request (same seed for every prompt), so a prompt's samples do not depend
  on which other prompts share the call; how deterministic that is depends on the server.
- Log-probs are requested (``logprobs``) and returned when the server provides them; otherwise
  ``token_logprobs`` is None (best-of-N by log-prob then fails loudly in the runner).
- Transient failures (connection errors, timeouts, HTTP 408/409/429/5xx) are retried with
  exponential backoff; other HTTP errors raise ``BackendError`` with the server's message.
- The API key comes from ``api_key=`` or the environment variable named by ``api_key_env``
  (default ``OPENAI_API_KEY``); it is sent as a Bearer token and never logged.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import DEFAULT_SAMPLING, Prompt, Sample, SamplingConfig, check_sample_count
from .errors import BackendError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


def _seed_for(seed: int, attempt: int) -> int:
    if attempt == 0:
        return int(seed)
    from ..seeding import derive_seed

    return derive_seed(seed, attempt) & 0x7FFFFFFF


def samples_from_completions(payload: dict[str, Any]) -> list[Sample]:
    """Samples of a ``/completions`` response, in choice order."""
    out = []
    for choice in sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0)):
        lp = choice.get("logprobs") or {}
        values = lp.get("token_logprobs") if isinstance(lp, dict) else None
        logprobs = tuple(float(v) for v in values if v is not None) if values is not None else None
        out.append(Sample(str(choice.get("text") or ""), logprobs, choice.get("finish_reason")))
    return out


def samples_from_chat(payload: dict[str, Any]) -> list[Sample]:
    """Samples of a ``/chat/completions`` response, in choice order."""
    out = []
    for choice in sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0)):
        message = choice.get("message") or {}
        lp = choice.get("logprobs")
        content = lp.get("content") if isinstance(lp, dict) else None
        logprobs = tuple(float(t["logprob"]) for t in content) if content is not None else None
        out.append(Sample(str(message.get("content") or ""), logprobs, choice.get("finish_reason")))
    return out


class OpenAIBackend:
    """``GenerationBackend`` over an OpenAI-compatible server; ``model`` is the served model name."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        concurrency: int = 4,
        logprobs: bool = True,
        send_repetition_penalty: bool = True,
    ) -> None:
        self.model = str(model)
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.logprobs = logprobs
        # vLLM servers accept ``repetition_penalty``; the OpenAI API rejects unknown parameters.
        self.send_repetition_penalty = send_repetition_penalty
        self.model_id = f"openai:{self.base_url}:{self.model}"

    # ---- HTTP ----------------------------------------------------------------------------------

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        url = f"{self.base_url}/{route}"
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:500]
                if exc.code not in RETRY_STATUS:
                    raise BackendError(f"{url} answered HTTP {exc.code}: {detail}") from None
                last = BackendError(f"{url} answered HTTP {exc.code}: {detail}")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = BackendError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}")
            except json.JSONDecodeError as exc:
                raise BackendError(f"{url} returned invalid JSON: {exc}") from None
        raise BackendError(f"{last} (gave up after {self.max_retries + 1} attempts)")

    def _request(self, prompt: Prompt, n: int, sampling: SamplingConfig, seed: int) -> list[Sample]:
        body: dict[str, Any] = {
            "model": self.model,
            "n": n,
            "max_tokens": sampling.max_new_tokens,
            "seed": seed,
            "temperature": 0.0 if sampling.greedy else sampling.temperature,
        }
        if not sampling.greedy:
            body["top_p"] = sampling.top_p
        if self.send_repetition_penalty and sampling.repetition_penalty != 1.0:
            body["repetition_penalty"] = sampling.repetition_penalty
        if isinstance(prompt, str):
            body["prompt"] = prompt
            if self.logprobs:
                body["logprobs"] = 0  # the sampled token's log-prob only
            return samples_from_completions(self._post("completions", body))
        body["messages"] = [dict(m) for m in prompt]
        if self.logprobs:
            body["logprobs"] = True
        return samples_from_chat(self._post("chat/completions", body))

    def _one_prompt(self, prompt: Prompt, n: int, sampling: SamplingConfig, seed: int) -> list[Sample]:
        samples: list[Sample] = []
        for attempt in range(n + 1):  # each round returns at least one choice or we give up
            missing = n - len(samples)
            if missing <= 0:
                break
            got = self._request(prompt, missing, sampling, _seed_for(seed, attempt))
            if not got:
                break
            samples.extend(got[:missing])
        if len(samples) != n:
            raise BackendError(f"{self.base_url} returned {len(samples)} of {n} samples")
        return samples

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
        if self.concurrency == 1 or len(prompts) == 1:
            return [self._one_prompt(p, n, sampling, seed) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._one_prompt(p, n, sampling, seed), prompts))

    # ---- expected-score judging ------------------------------------------------------------------

    def _next_token(self, prompt: Prompt, prefix: str, k: int) -> dict[str, float]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": 1, "temperature": 0.0}
        if isinstance(prompt, str):
            body.update(prompt=prompt + prefix, logprobs=k)
            choices = self._post("completions", body).get("choices") or [{}]
            tops = ((choices[0].get("logprobs") or {}).get("top_logprobs")) or [{}]
            return {str(t): float(lp) for t, lp in (tops[0] or {}).items()}
        # vLLM's extension: continue the final (assistant) message instead of opening a new turn.
        body.update(
            messages=[*(dict(m) for m in prompt), {"role": "assistant", "content": prefix}],
            logprobs=True,
            top_logprobs=k,
            continue_final_message=True,
            add_generation_prompt=False,
        )
        try:
            payload = self._post("chat/completions", body)
        except BackendError as exc:
            raise BackendError(
                f"expected-score judging needs the server to continue an assistant message "
                f"(vLLM's continue_final_message) or plain-text prompts (--prompt-format text): {exc}"
            ) from None
        choices = payload.get("choices") or [{}]
        content = ((choices[0].get("logprobs") or {}).get("content")) or []
        if not content:
            raise BackendError(f"{self.base_url} returned no top log-probs for a continuation request")
        return {str(t["token"]): float(t["logprob"]) for t in content[0].get("top_logprobs") or []}

    def next_token_logprobs(self, prompts: Sequence[Prompt], prefixes: Sequence[str], *, k: int = 20) -> list[dict[str, float]]:
        """Top-``k`` next tokens (text -> log-prob) after each prompt continued by ``prefix``."""
        if len(prompts) != len(prefixes):
            raise ValueError("next_token_logprobs needs one prefix per prompt")
        pairs = list(zip(prompts, prefixes, strict=True))
        if self.concurrency == 1 or len(pairs) == 1:
            return [self._next_token(p, x, k) for p, x in pairs]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(pairs))) as pool:
            return list(pool.map(lambda px: self._next_token(px[0], px[1], k), pairs))
