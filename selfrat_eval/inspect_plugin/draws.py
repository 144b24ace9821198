"""Inspect model calls -> the protocol's :class:`Draw` s (texts, log-probs, score distributions).

- Sampling strategies: ``strategy.samples`` calls per request, seeded ``seed, seed+1, ...`` from the
  eval's ``--seed``, with ``logprobs=True`` when the strategy selects by log-prob.
- Expected-score: one greedy call with ``logprobs=True, top_logprobs=20``; the verdict distribution
  is read from the top log-probs of the generated token right after the last ``[RESULT]`` (the
  scoring point). When that token cannot be found (no marker: the judgment is *forced*; or token
  boundaries that do not fall on the scoring point) a continuation call reads it instead: the
  messages plus an assistant message holding the scoring prefix, ``max_tokens=1``, and vLLM's
  ``continue_final_message`` (:data:`CONTINUE_PROVIDERS`). Providers that cannot continue a
  message give the draw no distribution, which the protocol counts (``no_score_probs``).
- When a whitespace-only token is among the top tokens at the scoring point (tokenizers that emit
  ``" "`` before ``"4"``), the distribution after it is read too -- from the generation when the judge
  emitted that whitespace, else by continuation -- and combined by the chain rule, as in the runner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inspect_ai.model import ChatMessage, ChatMessageAssistant, GenerateConfig, Model, ModelOutput

from ..parsing import ParseMode
from ..protocols import Draw, StrategyConfig
from ..protocols.expected import TOP_K, chain_verdicts, scoring_prefix, whitespace_step
from ..protocols.strategy import verdict_levels

# Model APIs whose final assistant message is continued (not answered) when asked with
# CONTINUE_BODY: Inspect's openai-api provider (pointed at a vLLM or compatible server), its
# vllm and sglang providers (they set the same flags themselves), and the offline selfrat/scripted.
CONTINUE_PROVIDERS = frozenset(
    {
        "inspect_ai.model._providers.openai_compatible.OpenAICompatibleAPI",
        "inspect_ai.model._providers.vllm.VLLMAPI",
        "inspect_ai.model._providers.sglang.SGLangAPI",
        "selfrat_eval.inspect_plugin.provider.SelfratOfflineAPI",
    }
)
CONTINUE_BODY = {"continue_final_message": True, "add_generation_prompt": False}

# Byte-level and SentencePiece tokenizers spell spaces and newlines like this in raw token strings
# (Inspect's hf provider returns those).
_TOKEN_SPACES = str.maketrans({"Ġ": " ", "▁": " ", "Ċ": "\n"})


@dataclass(frozen=True)
class Drawn:
    """A draw and what the log should show about it."""

    draw: Draw
    score_point: str | None = None  # expected-score: "generation", "continuation" or why none


def mean_logprob(output: ModelOutput) -> float | None:
    """Mean token log-prob of the first choice (the runner's rule); None when there is none."""
    lp = output.choices[0].logprobs if output.choices else None
    if lp is None or not lp.content:
        return None
    values = [t.logprob for t in lp.content]
    return sum(values) / len(values)


def _visible(text: str) -> str:
    return "".join(text.translate(_TOKEN_SPACES).split())


def _top(entries: Any) -> dict[str, float]:
    """Top log-probs -> {token text: log-prob}; raw tokens that spell the same text are summed
    (others keep their log-prob exactly)."""
    grouped: dict[str, list[float]] = {}
    for t in entries or []:
        grouped.setdefault(t.token.translate(_TOKEN_SPACES), []).append(t.logprob)
    out = {}
    for token, lps in grouped.items():
        mass = sum(math.exp(lp) for lp in lps)
        if mass > 0.0:
            out[token] = lps[0] if len(lps) == 1 else math.log(mass)
    return out


def _scoring_index(output: ModelOutput, prefix: str) -> int | None:
    """Index of the generated token that starts right after ``prefix`` (the judgment up to its
    last marker), or None when the tokens do not start there. Whitespace is ignored when matching,
    because raw token strings may spell it differently."""
    lp = output.choices[0].logprobs if output.choices else None
    if lp is None:
        return None
    target = _visible(prefix)
    seen = ""
    for i, token in enumerate(lp.content):
        if len(seen) == len(target):
            return i if seen == target else None
        seen += _visible(token.token)
        if len(seen) > len(target):
            return None
    return None


def top_at_scoring_point(output: ModelOutput, prefix: str) -> dict[str, float] | None:
    """Top log-probs of the generated token right after ``prefix`` (None when not available)."""
    i = _scoring_index(output, prefix)
    if i is None:
        return None
    token = output.choices[0].logprobs.content[i]  # type: ignore[union-attr]
    return _top(token.top_logprobs) if token.top_logprobs else None


def top_after_whitespace(output: ModelOutput, prefix: str) -> dict[str, float] | None:
    """When the judge generated a whitespace-only token at the scoring point (tokenizers that
    split ``" 4"`` into ``" "`` + ``"4"``), the top log-probs of the token after it."""
    i = _scoring_index(output, prefix)
    content = output.choices[0].logprobs.content if i is not None else []  # type: ignore[union-attr]
    if i is None or i + 1 >= len(content) or content[i].token.translate(_TOKEN_SPACES).strip():
        return None
    nxt = content[i + 1]
    return _top(nxt.top_logprobs) if nxt.top_logprobs else None


def can_continue(model: Model) -> bool:
    cls = type(model.api)
    return f"{cls.__module__}.{cls.__qualname__}" in CONTINUE_PROVIDERS


async def continuation_top(
    model: Model, messages: list[ChatMessage], prefix: str, extra_body: dict[str, Any] | None
) -> tuple[dict[str, float] | None, str]:
    """Top next-token log-probs after ``messages`` + an assistant message holding ``prefix``."""
    if not can_continue(model):
        return None, f"{type(model.api).__name__} cannot continue a message"
    config = GenerateConfig(
        temperature=0.0,
        max_tokens=1,
        logprobs=True,
        top_logprobs=TOP_K,
        extra_body={**(extra_body or {}), **CONTINUE_BODY},
    )
    try:
        output = await model.generate([*messages, ChatMessageAssistant(content=prefix)], config=config)
    except Exception as exc:  # noqa: BLE001 - a server that refuses the extension: counted, not fatal
        return None, f"continuation failed: {' '.join(str(exc).split())[:300]}"
    lp = output.choices[0].logprobs if output.choices else None
    if lp is None or not lp.content or not lp.content[0].top_logprobs:
        return None, "continuation returned no top log-probs"
    return _top(lp.content[0].top_logprobs), "continuation"


async def sample_draws(
    model: Model, messages: list[ChatMessage], strategy: StrategyConfig, seed: int | None
) -> list[Drawn]:
    """The ``strategy.samples`` draws of one request, in order (draw i gets seed + i)."""
    out = []
    for i in range(strategy.samples):
        config = GenerateConfig(
            logprobs=True if strategy.wants_logprobs else None,
            seed=None if seed is None else seed + i,
        )
        output = await model.generate(messages, config=config)
        out.append(Drawn(Draw(output.completion, mean_logprob(output))))
    return out


async def expected_draw(
    model: Model,
    messages: list[ChatMessage],
    mode: ParseMode,
    scale: tuple[int, int],
    seed: int | None,
    extra_body: dict[str, Any] | None = None,
) -> Drawn:
    """One greedy judgment and the verdict distribution at its scoring point."""
    output = await model.generate(
        messages, config=GenerateConfig(logprobs=True, top_logprobs=TOP_K, seed=seed)
    )
    text = output.completion
    prefix, forced = scoring_prefix(text)
    top = None if forced else top_at_scoring_point(output, prefix)
    second = None if forced else top_after_whitespace(output, prefix)
    how = "generation"
    if top is None:
        top, how = await continuation_top(model, messages, prefix, extra_body)
    levels = verdict_levels(mode, scale)
    if top is None:
        return Drawn(Draw(text, mean_logprob(output), None, forced), how)
    # a whitespace token may come before the verdict: read after it too (the protocol's chain rule)
    step = whitespace_step(top)
    if step is not None and second is None:
        second, _ = await continuation_top(model, messages, prefix + step[0], extra_body)
    score_logprobs = chain_verdicts(top, levels, step, second)
    return Drawn(Draw(text, mean_logprob(output), score_logprobs, forced), how)
