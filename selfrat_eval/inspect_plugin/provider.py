"""Offline model provider ``selfrat/scripted`` (Inspect's ``mockllm`` needs a tiktoken download).

It answers exactly like :class:`selfrat_eval.testing.ScriptedJudgeServer` without a server: the
k-th sampled answer to a set of messages is ``ScriptedJudgeServer.judgment(messages, k)`` (greedy
requests get k = 0), with the same token log-probs, the verdict distribution after ``[RESULT]``, and
continuation of a final assistant message (``continue_final_message``) for expected-score judging.
Draws are counted per running sample, so an eval's answers do not depend on earlier evals in the
same process. ``-M fail_every=5`` (1 answer in N has no marker; 0 = none), ``-M logprobs=false``
(emulate an API that returns no log-probs).

    inspect eval selfrat_eval/feedback_bench -T data=fb.jsonl --model selfrat/scripted
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelOutput,
    TopLogprob,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from ..protocols import parse_flag
from ..testing import ScriptedJudgeServer

CHAT_ROUTE = "/v1/chat/completions"


def _sample_uuid() -> str | None:
    # The running sample (internal Inspect API; None outside a sample).
    try:
        from inspect_ai.solver._task_state import sample_state

        state = sample_state()
    except Exception:  # noqa: BLE001
        return None
    return None if state is None else str(state.uuid)


def _logprobs(content: list[dict[str, Any]] | None) -> Logprobs | None:
    if content is None:
        return None
    return Logprobs(
        content=[
            Logprob(
                token=t["token"],
                logprob=t["logprob"],
                top_logprobs=[
                    TopLogprob(token=x["token"], logprob=x["logprob"]) for x in t.get("top_logprobs") or []
                ],
            )
            for t in content
        ]
    )


@modelapi(name="selfrat")
class SelfratOfflineAPI(ModelAPI):
    """``selfrat/scripted``: the scripted judge, offline (see the module docstring)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **model_args: Any,
    ) -> None:
        super().__init__(
            model_name=model_name, base_url=base_url, api_key=api_key, config=config or GenerateConfig()
        )
        if model_name != "scripted":
            raise ValueError(f"unknown selfrat model {model_name!r}: use selfrat/scripted")
        fail_every = int(model_args.pop("fail_every", 5))
        logprobs = parse_flag(model_args.pop("logprobs", True), "logprobs")
        if model_args:
            raise ValueError(f"unknown model args for selfrat/scripted: {sorted(model_args)}")
        # The server's answer functions, without serving: its socket is closed right away.
        self.judge = ScriptedJudgeServer(fail_every=fail_every, logprobs=logprobs, model="selfrat/scripted")
        self.judge.httpd.server_close()
        self._counts: Counter[tuple[str | None, str]] = Counter()

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.text} for m in input],
            "temperature": config.temperature,
            "logprobs": config.logprobs,
            "top_logprobs": config.top_logprobs,
            **(config.extra_body or {}),
        }
        key = self.judge.request_key(body)
        greedy = float(config.temperature or 0.0) <= 0.0
        if body.get("continue_final_message"):
            choice = self.judge.answer(CHAT_ROUTE, body)["choices"][0]
        else:
            counter = (_sample_uuid(), key)
            k = 0 if greedy else self._counts[counter]
            self._counts[counter] += 0 if greedy else 1
            text = self.judge.judgment(key, k)
            choice = {"message": {"content": text}, "logprobs": None}
            if config.logprobs and self.judge.logprobs:
                tokens = self.judge.token_logprobs(key, k, text, int(config.top_logprobs or 0))
                choice["logprobs"] = {"content": tokens}
        output = ModelOutput.from_content(model="selfrat/scripted", content=str(choice["message"]["content"]))
        output.choices[0].logprobs = _logprobs((choice.get("logprobs") or {}).get("content"))
        return output
