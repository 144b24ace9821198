"""A scripted OpenAI-compatible judge server on 127.0.0.1, for parity tests and offline dry runs.

Its answers are a function of the request only: the chat messages (or completion prompt), and the
k-th time these messages were asked for at a temperature > 0 (so N samples differ, whichever front
end asks for them and in whatever order: one request with ``n=N`` or N requests with ``n=1``).
Greedy requests (temperature 0) always get draw 0. A share of the answers has no ``[RESULT]``
marker, so failures are exercised too. Every request is recorded.

It also speaks the two log-prob dialects front ends use: ``logprobs``/``top_logprobs`` on chat
completions (token log-probs of the answer, and at the token after ``[RESULT]`` a top-k
distribution over the verdicts), and vLLM's ``continue_final_message`` extension (the last message
is an assistant prefix; with ``max_tokens=1`` it returns the top-k next tokens there), which is how
expected-score judging reads a distribution, forced or not.

    with ScriptedJudgeServer() as server:
        selfrat evaluate --backend openai --base-url {server.url} --judge scripted ...
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MARKER = "[RESULT]"


def _digest(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest(), 16)


class ScriptedJudgeServer:
    """Deterministic fake judge (see module docstring). ``fail_every``: 1 answer in N has no marker;
    ``logprobs``: whether token log-probs are returned when asked (False emulates chat APIs that
    never return them)."""

    def __init__(self, *, fail_every: int = 5, logprobs: bool = True, model: str = "scripted-judge") -> None:
        self.fail_every = fail_every
        self.logprobs = logprobs
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []  # the Authorization header of every request
        self.fail_next: list[int] = []  # HTTP codes to answer, in order, before answering again
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - /v1/models for clients that list models
                self._send(200, {"object": "list", "data": [{"id": outer.model, "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with outer._lock:
                    outer.requests.append({"path": self.path, **body})
                    outer.auth.append(self.headers.get("Authorization"))
                    failure = outer.fail_next.pop(0) if outer.fail_next else None
                if failure is not None:  # emulate an overloaded or broken server
                    self._send(failure, {"error": {"message": f"scripted failure {failure}"}})
                    return
                try:
                    payload = outer.answer(self.path, body)
                except ValueError as exc:
                    self._send(400, {"error": {"message": str(exc)}})
                    return
                self._send(200, payload)

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ScriptedJudgeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedJudgeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- answers ---------------------------------------------------------------------------------

    @staticmethod
    def request_key(body: dict[str, Any]) -> str:
        messages = body.get("messages")
        if messages is not None:
            return json.dumps([{"role": m.get("role"), "content": _content(m)} for m in messages], ensure_ascii=False)
        return json.dumps(body.get("prompt"), ensure_ascii=False)

    def judgment(self, key: str, k: int) -> str:
        """The k-th answer to the prompt ``key``."""
        h = _digest(key, k)
        if self.fail_every and h % self.fail_every == 0:
            return f"I cannot decide on this one (case {h % 97})."
        verdict = "AB"[h % 2] if "###Response B:" in key else str(h % 5 + 1)
        return f"Rationale {h % 9973}: the response was read against the rubric. {MARKER} {verdict}"

    def distribution(self, key: str, prefix: str) -> dict[str, float]:
        """Top next tokens (text -> log-prob) after ``prefix``: verdict tokens with a spread that
        depends on the prompt and the prefix, plus some mass on a non-verdict token."""
        verdicts = ["A", "B"] if "###Response B:" in key else ["1", "2", "3", "4", "5"]
        h = _digest(key, prefix)
        weights = [1 + (h >> (5 * i)) % 13 for i in range(len(verdicts))] + [2]
        total = sum(weights)
        tokens = [f" {v}" for v in verdicts] + [" The"]
        return {t: math.log(w / total) for t, w in zip(tokens, weights, strict=True)}

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = self.request_key(body)
        messages = body.get("messages")
        if messages and body.get("continue_final_message"):
            return self._continuation(key_without_last(messages), _content(messages[-1]), body)
        n = int(body.get("n") or 1)
        greedy = float(body.get("temperature") or 0.0) <= 0.0
        with self._lock:
            start = 0 if greedy else self._counts[key]
            if not greedy:
                self._counts[key] += n
        choices = []
        for i in range(n):
            k = 0 if greedy else start + i
            text = self.judgment(key, k)
            choice: dict[str, Any] = {"index": i, "finish_reason": "stop"}
            if path.endswith("/chat/completions"):
                choice["message"] = {"role": "assistant", "content": text}
                if body.get("logprobs") and self.logprobs:
                    choice["logprobs"] = {"content": self.token_logprobs(key, k, text, int(body.get("top_logprobs") or 0))}
            else:
                choice["text"] = text
            choices.append(choice)
        return {"id": "scripted", "object": "chat.completion", "model": self.model, "choices": choices}

    def token_logprobs(self, key: str, k: int, text: str, top: int) -> list[dict[str, Any]]:
        """Whitespace-split tokens with log-probs; the token after the marker carries the verdict
        distribution (the same one a continuation request gets)."""
        h = _digest(key, k, "lp")
        tokens = text.split(" ")
        tokens = [t if i == 0 else " " + t for i, t in enumerate(tokens)]
        mean = -((h % 200) + 1) / 100
        out = []
        for i, tok in enumerate(tokens):
            entry: dict[str, Any] = {"token": tok, "logprob": mean, "top_logprobs": []}
            if top and i > 0 and tokens[i - 1].strip() == MARKER:
                prefix = "".join(tokens[:i])
                dist = self.distribution(key, prefix)
                entry["logprob"] = dist.get(tok, mean)
                entry["top_logprobs"] = [{"token": t, "logprob": lp} for t, lp in sorted(dist.items(), key=lambda x: -x[1])][:top]
            out.append(entry)
        return out

    def _continuation(self, key: str, prefix: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("add_generation_prompt", True):
            raise ValueError("continue_final_message needs add_generation_prompt=false")
        dist = self.distribution(key, prefix)
        best = max(dist, key=dist.get)  # type: ignore[arg-type]
        top = int(body.get("top_logprobs") or 0)
        content = [{"token": best, "logprob": dist[best], "top_logprobs": [
            {"token": t, "logprob": lp} for t, lp in sorted(dist.items(), key=lambda x: -x[1])
        ][:top]}]
        return {
            "id": "scripted",
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": best},
                         "logprobs": {"content": content} if body.get("logprobs") else None}],
        }

    def prompts(self) -> list[str]:
        """The prompt (messages) of every judgment drawn, once per draw (a request with ``n=4``
        counts 4 times, like 4 requests), continuation requests excluded."""
        return [
            self.request_key(r)
            for r in self.requests
            if not r.get("continue_final_message")
            for _ in range(int(r.get("n") or 1))
        ]


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # [{"type": "text", "text": ...}] (Inspect, newer clients)
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def key_without_last(messages: list[dict[str, Any]]) -> str:
    return json.dumps([{"role": m.get("role"), "content": _content(m)} for m in messages[:-1]], ensure_ascii=False)
