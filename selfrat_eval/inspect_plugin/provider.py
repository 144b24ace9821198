"""Offline model provider ``selfrat`` (Inspect's ``mockllm`` needs a tiktoken download).

Two models:

``--model selfrat/replay -M path=outputs.jsonl`` returns canned judgment texts. Each JSONL row has
``outputs`` (list of texts) and selects the calls it answers with ``id`` (the sample id) and/or
``contains`` (a string or list of strings that must all occur in the last user message); exactly
one row must match a call. The k-th call (k = 0, 1, ...) a sample makes to a row in epoch e returns
``outputs[((e - 1) * calls_per_epoch + k) % len(outputs)]`` (``calls_per_epoch`` defaults to 1; set
it to N for best-of-N with several epochs). Optional ``logprobs`` (one mean log-prob per output) are returned as token
log-probs when the request asks for them (``GenerateConfig(logprobs=True)``).

``--model selfrat/scripted -M seed=0 -M fail_rate=0.1`` writes well-formed judgments whose score
(or A/B verdict) is drawn from a generator seeded by (seed, prompt, epoch, call index), with a
log-prob; a ``fail_rate`` share of outputs carries no ``[RESULT]`` marker. Same seed, same outputs.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageUser,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelOutput,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from ..records import DataError

_SCALE = re.compile(r"integer between (-?\d+) and (-?\d+)")
_RELATIVE = "(A or B)"


@dataclass(frozen=True)
class ReplayRow:
    outputs: list[str]
    id: str | None = None
    contains: tuple[str, ...] = ()
    logprobs: list[float] | None = None
    calls_per_epoch: int = 1

    def matches(self, sample_id: str | None, prompt: str) -> bool:
        if self.id is not None and self.id != sample_id:
            return False
        return all(c in prompt for c in self.contains)


def load_replay(path: str | Path) -> list[ReplayRow]:
    """Read and validate a replay file; errors name the file, the line and the field."""
    rows: list[ReplayRow] = []
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: replay file not found")
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}, line {lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg})") from None
        outputs = raw.get("outputs")
        if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
            raise DataError(f"{where}: field 'outputs' must be a non-empty list of strings")
        contains = raw.get("contains", ())
        contains = (contains,) if isinstance(contains, str) else tuple(contains)
        if raw.get("id") is None and not contains:
            raise DataError(f"{where}: a row needs 'id' and/or 'contains' to select the calls it answers")
        logprobs = raw.get("logprobs")
        if logprobs is not None and len(logprobs) != len(outputs):
            raise DataError(f"{where}: field 'logprobs' must have one value per output")
        rows.append(
            ReplayRow(
                outputs=outputs,
                id=None if raw.get("id") is None else str(raw["id"]),
                contains=contains,
                logprobs=None if logprobs is None else [float(x) for x in logprobs],
                calls_per_epoch=int(raw.get("calls_per_epoch", 1)),
            )
        )
    if not rows:
        raise DataError(f"{p}: replay file has no rows")
    return rows


def _last_user_text(messages: list[ChatMessage]) -> str:
    for m in reversed(messages):
        if isinstance(m, ChatMessageUser):
            return m.text
    return messages[-1].text if messages else ""


def _sample_context() -> tuple[str | None, int, str | None]:
    # The running sample's id, epoch and run uuid (internal Inspect API; absent outside a sample).
    try:
        from inspect_ai.solver._task_state import sample_state

        state = sample_state()
    except Exception:  # noqa: BLE001
        state = None
    if state is None:
        return None, 1, None
    return str(state.sample_id), int(state.epoch), str(state.uuid)


def _logprobs(text: str, mean: float) -> Logprobs:
    # One entry per whitespace token, each with the mean, so the mean token log-prob is exactly `mean`.
    tokens = text.split() or [text]
    return Logprobs(content=[Logprob(token=t, logprob=mean) for t in tokens])


@modelapi(name="selfrat")
class SelfratOfflineAPI(ModelAPI):
    """Deterministic offline judge outputs for tests and smoke runs (see module docstring)."""

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
        if model_name not in ("replay", "scripted"):
            raise ValueError(f"unknown selfrat model {model_name!r}: use selfrat/replay or selfrat/scripted")
        self.rows: list[ReplayRow] = []
        if model_name == "replay":
            if "path" not in model_args:
                raise ValueError("selfrat/replay needs -M path=<replay.jsonl>")
            self.rows = load_replay(model_args.pop("path"))
        self.seed = int(model_args.pop("seed", 0))
        self.fail_rate = float(model_args.pop("fail_rate", 0.0))
        if model_args:
            raise ValueError(f"unknown model args for selfrat/{model_name}: {sorted(model_args)}")
        self._calls: dict[Any, int] = defaultdict(int)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        prompt = _last_user_text(input)
        sample_id, epoch, run = _sample_context()
        if self.model_name == "replay":
            text, lp = self._replay(prompt, sample_id, epoch, run)
        else:
            text, lp = self._scripted(prompt, epoch, run)
        output = ModelOutput.from_content(model=f"selfrat/{self.model_name}", content=text)
        if config.logprobs and lp is not None:
            output.choices[0].logprobs = _logprobs(text, lp)
        return output

    def _next_call(self, key: tuple[Any, ...]) -> int:
        # Calls are counted per running sample (its uuid), so the k-th call of a sample does not
        # depend on sample order, concurrency or earlier evals in the same process.
        k = self._calls[key]
        self._calls[key] += 1
        return k

    def _replay(
        self, prompt: str, sample_id: str | None, epoch: int, run: str | None
    ) -> tuple[str, float | None]:
        hits = [i for i, r in enumerate(self.rows) if r.matches(sample_id, prompt)]
        if len(hits) != 1:
            what = "no replay row matches" if not hits else f"replay rows {hits} all match"
            raise ValueError(f"{what} sample {sample_id!r}, prompt starting {prompt[:120]!r}")
        row = self.rows[hits[0]]
        k = self._next_call((hits[0], run))
        i = ((epoch - 1) * row.calls_per_epoch + k) % len(row.outputs)
        return row.outputs[i], (row.logprobs[i] if row.logprobs is not None else None)

    def _scripted(self, prompt: str, epoch: int, run: str | None) -> tuple[str, float]:
        digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
        k = self._next_call((digest, run))
        rng = random.Random(f"{self.seed}|{digest}|{epoch}|{k}")
        lp = round(rng.uniform(-3.0, -0.05), 6)
        if rng.random() < self.fail_rate:
            return "I cannot decide on a score for this response.", lp
        if _RELATIVE in prompt:
            verdict: str = rng.choice(["A", "B"])
            return f"Response {verdict} follows the rubric more closely. [RESULT] {verdict}", lp
        m = _SCALE.search(prompt)
        low, high = (int(m.group(1)), int(m.group(2))) if m else (1, 5)
        score = rng.randint(low, high)
        return f"The response meets level {score} of the rubric. [RESULT] {score}", lp
