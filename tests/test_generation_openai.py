"""OpenAI-compatible backend against a small local HTTP server started by the test (127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from selfrat_eval.generation import BackendError, GenerationBackend, SamplingConfig, load_backend
from selfrat_eval.generation.openai import OpenAIBackend, samples_from_chat, samples_from_completions
from selfrat_eval.testing import ScriptedJudgeServer

SAMPLING = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=16, repetition_penalty=1.03)


class FakeServer(ScriptedJudgeServer):
    """Deterministic fake: the text of choice i is derived from (prompt, seed, i); the scripted
    server's HTTP side (request log, Authorization headers, ``fail_next``) is reused."""

    def __init__(self) -> None:
        super().__init__()
        self.max_choices: int | None = None  # emulate servers that ignore n

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt") or json.dumps(body.get("messages"))
        n = body["n"] if self.max_choices is None else min(body["n"], self.max_choices)
        choices = []
        for i in range(n):
            digest = hashlib.sha256(f"{prompt}|{body['seed']}|{i}".encode()).hexdigest()[:8]
            text = f"Rationale {digest} [RESULT] {int(digest, 16) % 5 + 1}"
            lps = [-(int(digest[k], 16) + 1) / 10 for k in range(4)]
            if path.endswith("/chat/completions"):
                choices.append(
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": {"content": [{"token": "t", "logprob": v} for v in lps]}
                        if body.get("logprobs")
                        else None,
                        "finish_reason": "stop",
                    }
                )
            else:
                choices.append(
                    {
                        "index": i,
                        "text": text,
                        "logprobs": {"tokens": ["t"] * 4, "token_logprobs": lps}
                        if "logprobs" in body
                        else None,
                        "finish_reason": "length",
                    }
                )
        return {"choices": list(reversed(choices))}  # out of order on purpose: index decides


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def test_completions_and_chat_routes(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFRAT_TEST_KEY", "sk-test")
    backend = load_backend(
        "openai", "judge", base_url=server.url, api_key_env="SELFRAT_TEST_KEY", concurrency=2
    )
    assert isinstance(backend, GenerationBackend)
    msgs = [{"role": "user", "content": "grade"}]
    out = backend.generate(["plain prompt", msgs], n=3, sampling=SAMPLING, seed=11)
    assert [len(g) for g in out] == [3, 3]
    paths = sorted(r["path"] for r in server.requests)
    assert paths == ["/v1/chat/completions", "/v1/completions"]
    comp = next(r for r in server.requests if r["path"] == "/v1/completions")
    assert comp["n"] == 3 and comp["seed"] == 11 and comp["max_tokens"] == 16 and comp["top_p"] == 0.9
    assert comp["repetition_penalty"] == 1.03 and comp["logprobs"] == 0 and comp["model"] == "judge"
    chat = next(r for r in server.requests if r["path"] == "/v1/chat/completions")
    assert chat["messages"] == msgs and chat["logprobs"] is True
    assert set(server.auth) == {"Bearer sk-test"}
    # choices come back reversed; the index order is restored and log-probs are kept
    assert out[0][0].text == server.answer("/v1/completions", {**comp, "n": 1})["choices"][0]["text"]
    assert out[0][0].finish_reason == "length" and out[1][0].finish_reason == "stop"
    assert all(s.token_logprobs is not None and len(s.token_logprobs) == 4 for g in out for s in g)
    again = backend.generate(["plain prompt", msgs], n=3, sampling=SAMPLING, seed=11)
    assert again == out


def test_greedy_sends_temperature_zero(server: FakeServer) -> None:
    backend = OpenAIBackend("judge", base_url=server.url, logprobs=False, send_repetition_penalty=False)
    backend.generate(["x"], n=1, sampling=SamplingConfig(temperature=0.0, repetition_penalty=1.5), seed=0)
    req = server.requests[-1]
    assert req["temperature"] == 0.0 and "top_p" not in req
    assert "repetition_penalty" not in req and "logprobs" not in req


def test_retries_transient_errors(server: FakeServer) -> None:
    server.fail_next = [503, 429]
    backend = OpenAIBackend("judge", base_url=server.url, backoff=0.01, max_retries=3)
    out = backend.generate(["x"], n=2, sampling=SAMPLING, seed=0)
    assert len(out[0]) == 2 and len(server.requests) == 3


def test_gives_up_and_reports(server: FakeServer) -> None:
    server.fail_next = [500] * 5
    backend = OpenAIBackend("judge", base_url=server.url, backoff=0.001, max_retries=2)
    with pytest.raises(BackendError, match="HTTP 500.*3 attempts"):
        backend.generate(["x"], n=1, sampling=SAMPLING, seed=0)
    server.fail_next = [400]
    with pytest.raises(BackendError, match="HTTP 400"):
        backend.generate(["x"], n=1, sampling=SAMPLING, seed=0)
    assert len(server.requests) == 4  # a 400 is not retried


def test_unreachable_server_is_a_clear_error() -> None:
    backend = OpenAIBackend("judge", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(BackendError, match="cannot reach"):
        backend.generate(["x"], n=1, sampling=SAMPLING, seed=0)


def test_server_ignoring_n_is_topped_up_with_new_seeds(server: FakeServer) -> None:
    server.max_choices = 1
    backend = OpenAIBackend("judge", base_url=server.url, concurrency=1)
    out = backend.generate(["x"], n=3, sampling=SAMPLING, seed=5)
    assert len(out[0]) == 3
    seeds = [r["seed"] for r in server.requests]
    assert len(set(seeds)) == 3 and seeds[0] == 5
    assert len({s.text for s in out[0]}) == 3


def test_payload_converters_without_logprobs() -> None:
    comp = samples_from_completions({"choices": [{"index": 0, "text": "a", "finish_reason": "stop"}]})
    assert comp[0].text == "a" and comp[0].token_logprobs is None
    chat = samples_from_chat({"choices": [{"index": 0, "message": {"content": None}, "logprobs": None}]})
    assert chat[0].text == "" and chat[0].token_logprobs is None
