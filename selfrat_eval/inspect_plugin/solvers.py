"""The ``judge`` solver: run every grading call of a sample, optionally best-of-N.

With ``n > 1`` each call draws N judgments and keeps one with the core's ``best_of_n``:
``strategy="logprob"`` keeps the highest mean token log-probability when the provider returns
log-probs for every draw (requested through ``GenerateConfig(logprobs=True)``); otherwise (or with
``strategy="majority"``) it keeps the first judgment that agrees with the majority score/verdict.
What was drawn and how the pick was made is stored in the sample store under ``JUDGMENTS_KEY``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from inspect_ai.model import (
    ChatMessageAssistant,
    GenerateConfig,
    ModelOutput,
    get_model,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import collect

from ..aggregation import best_of_n
from ..parsing import parse_judgment
from .dataset import _input

JUDGMENTS_KEY = "selfrat_judgments"
Strategy = Literal["logprob", "majority"]


def mean_logprob(output: ModelOutput) -> float | None:
    """Mean token log-probability of the first choice, or None when the provider gave none."""
    if not output.choices or output.choices[0].logprobs is None:
        return None
    values = [lp.logprob for lp in output.choices[0].logprobs.content]
    if not values:
        return None
    return float(sum(values) / len(values))


def _base_seed() -> int | None:
    # The eval's --seed, so N draws get seed, seed+1, ... (identical seeds would give identical draws
    # on providers that honour per-request seeds).
    try:
        from inspect_ai.model._generate_config import active_generate_config

        return active_generate_config().seed
    except Exception:  # noqa: BLE001 - internal API; without it draws are simply unseeded
        return None


def select(
    texts: list[str],
    logprobs: list[float | None],
    *,
    parse_mode: str,
    scale: tuple[int, int],
    strategy: Strategy,
) -> tuple[int, str, int]:
    """Index of the kept draw, how it was chosen, and how many draws failed to parse."""
    judgments = [parse_judgment(t, mode=parse_mode, scale=scale) for t in texts]  # type: ignore[arg-type]
    n_failed = sum(not j.ok for j in judgments)
    if len(texts) == 1:
        return 0, "single", n_failed
    if strategy == "logprob" and all(lp is not None and not math.isnan(lp) for lp in logprobs):
        sel = best_of_n(judgments, by="logprob", logprobs=[float(lp) for lp in logprobs])  # type: ignore[arg-type]
        how = "logprob"
    else:
        sel = best_of_n(judgments, by="majority")
        how = "majority" if strategy == "majority" else "majority (provider returned no logprobs)"
    if sel.index is None:
        # Every draw failed: keep the first so the failure is scored (and counted) as such.
        return 0, f"{how}; every draw failed", n_failed
    return sel.index, how, n_failed


@solver
def judge(n: int = 1, strategy: Strategy = "logprob") -> Solver:
    """Generate the sample's judgments (``metadata['prompts']``), N draws each when ``n > 1``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if strategy not in ("logprob", "majority"):
        raise ValueError(f"strategy must be 'logprob' or 'majority', got {strategy!r}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        meta = state.metadata
        if "prompts" not in meta:
            raise ValueError("the judge solver needs samples built by selfrat_eval's dataset adapters")
        model = get_model()
        scale = tuple(meta.get("scale", (1, 5)))
        seed = _base_seed()

        async def run_call(user: str) -> tuple[dict[str, Any], ModelOutput]:
            # The N draws of one call run in order (the replay provider counts them); the
            # sample's different calls run concurrently, so batching providers (hf) group them.
            messages = _input(meta.get("system"), user)
            outputs: list[ModelOutput] = []
            for i in range(n):
                config = GenerateConfig()
                if n > 1 and strategy == "logprob":
                    config = GenerateConfig(logprobs=True)
                if n > 1 and seed is not None:
                    config = config.merge(GenerateConfig(seed=seed + i))
                outputs.append(await model.generate(messages, config=config))
            texts = [o.completion for o in outputs]
            lps = [mean_logprob(o) for o in outputs]
            index, how, n_failed = select(
                texts,
                lps,
                parse_mode=meta["parse_mode"],
                scale=scale,
                strategy=strategy,  # type: ignore[arg-type]
            )
            record = {
                "text": texts[index],
                "index": index,
                "selected_by": how,
                "n_draws": n,
                "n_failed_draws": n_failed,
                "draws": texts if n > 1 else None,
                "mean_logprobs": lps if n > 1 else None,
            }
            return record, outputs[index]

        keys = list(meta["prompts"])
        done = await collect(*(run_call(meta["prompts"][k]) for k in keys))
        results = {k: rec for k, (rec, _) in zip(keys, done, strict=True)}
        first = done[0][1] if done else None
        state.store.set(JUDGMENTS_KEY, results)
        if first is not None:
            state.output = first
            state.messages.append(ChatMessageAssistant(content=first.completion, source="generate"))
        return state

    return solve
