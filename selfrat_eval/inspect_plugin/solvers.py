"""The ``judge`` solver: draw the judgments of every request of a sample, then ``judge_item``.

The requests come from the sample metadata (built from ``protocol.requests(item)``); the draws of
one request run in order, the requests of a sample concurrently (so batching providers group them).
The protocol's :func:`~selfrat_eval.protocols.judge_item` turns the draws into decisions and the
item result; both are kept in the sample store for the scorer, with every draw for the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspect_ai.model import ChatMessageAssistant, GenerateConfig, Model, ModelOutput, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import collect

from ..protocols import judge_item
from ..protocols.strategy import load_scorer
from .dataset import chat_messages, item_of
from .draws import Drawn, expected_draw, sample_draws
from .params import JudgeSpec

RESULT_KEY = "selfrat_eval:result"  # the protocol's ItemResult
DECISIONS_KEY = "selfrat_eval:decisions"  # request key -> decision, with its draws


def _active_config() -> GenerateConfig:
    # The eval's generate config (--seed, --extra-body ...); internal Inspect API, so fall back to none.
    try:
        from inspect_ai.model._generate_config import active_generate_config

        return active_generate_config()
    except Exception:  # noqa: BLE001
        return GenerateConfig()


def _draw_rows(drawn: list[Drawn], mode: str, scale: tuple[int, int]) -> list[dict[str, Any]]:
    rows = []
    for d in drawn:
        j = d.draw.judgment(mode, scale)  # type: ignore[arg-type]
        row: dict[str, Any] = {"text": d.draw.text, "value": j.value, "parse_error": j.error}
        if d.draw.mean_logprob is not None:
            row["mean_logprob"] = d.draw.mean_logprob
        if d.score_point is not None:
            row.update(score_point=d.score_point, score_logprobs=d.draw.score_logprobs, forced=d.draw.forced)
        rows.append(row)
    return rows


def _check_greedy(model: Model, spec: JudgeSpec, active: GenerateConfig) -> None:
    # Inspect's hf provider samples unless told not to, and transformers refuses temperature 0.
    if spec.strategy.single and not active.temperature and getattr(model.api, "do_sample", False):
        raise ValueError(
            f"strategy {spec.strategy.name} decodes greedily: pass -M do_sample=false to the {model.api.__class__.__name__} provider"
        )


@solver
def judge(
    benchmark: str,
    options: Mapping[str, Any] | None = None,
    strategy: Mapping[str, Any] | None = None,
) -> Solver:
    """Judge each sample of a ``selfrat_eval`` task under its benchmark protocol and strategy.

    Args:
        benchmark: protocol name (``biggen``, ``feedback_bench``, ``rewardbench``, ``custom``).
        options: BenchmarkOptions fields (the task parameters of the same names).
        strategy: ``strategy``, ``n``, ``sc_method``, ``select_by`` and ``scorer``.
    """
    spec = JudgeSpec.from_solver_args(benchmark, options, strategy)
    external = load_scorer(spec.scorer) if spec.scorer else None

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if state.epoch > 1:
            raise ValueError(
                "selfrat_eval tasks judge each sample once: for self-consistency use "
                "-T strategy=self-consistency -T n=N instead of --epochs"
            )
        protocol, item = item_of(spec, state.sample_id)
        model = get_model()
        active = _active_config()
        _check_greedy(model, spec, active)

        async def run(request: Mapping[str, Any]) -> list[Drawn]:
            messages = chat_messages(request["messages"])
            if spec.strategy.name == "expected-score":
                scale = (int(request["scale"][0]), int(request["scale"][1]))
                return [
                    await expected_draw(
                        model, messages, request["mode"], scale, active.seed, active.extra_body
                    )
                ]
            return await sample_draws(model, messages, spec.strategy, active.seed)

        requests = state.metadata["requests"]
        drawn = await collect(*(run(r) for r in requests))
        by_key = {r["key"]: d for r, d in zip(requests, drawn, strict=True)}
        result, decisions = judge_item(
            protocol,
            item,
            {k: [d.draw for d in ds] for k, ds in by_key.items()},
            spec.strategy,
            scorer=external,
        )
        state.store.set(RESULT_KEY, result)
        state.store.set(
            DECISIONS_KEY,
            {
                r["key"]: {
                    **decisions[r["key"]].to_dict(),
                    "draws": _draw_rows(by_key[r["key"]], r["mode"], tuple(r["scale"])),  # type: ignore[arg-type]
                }
                for r in requests
            },
        )
        first = by_key[requests[0]["key"]][0].draw.text
        state.messages.append(ChatMessageAssistant(content=first, source="generate"))
        state.output = ModelOutput.from_content(model=str(model), content=first)
        return state

    return solve
