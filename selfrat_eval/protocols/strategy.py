"""Strategies: how the N sampled judgments of one judge request become one decision.

This is the only place that decides it, for every front end (runner, lm-eval, Inspect, training,
demo). A front end hands over the draws of a request (their texts, plus a mean token log-prob and a
score distribution when it has them) and gets back a :class:`Decision`.

- ``greedy``: one judgment at temperature 0; its parsed verdict decides.
- ``self-consistency``: N sampled judgments; majority (or mean/median) of the parsed scores, or the
  majority A/B verdict. Failed draws are excluded and counted.
- ``best-of-n``: N sampled judgments; the parsed one with the highest mean token log-probability.
  The one rule when log-probs are missing: if any parsed draw of a request has no log-prob (chat APIs
  that do not return them, lm-eval chat models), that request falls back to majority agreement (the
  first draw agreeing with the majority verdict) and the decision says so
  (``selected_by = "majority (no logprobs)"``); metrics count such requests in ``n_bon_fallback``.
- ``expected-score``: one greedy judgment; after its ``[RESULT]`` marker the judge's probabilities
  of the scale's score tokens (or A/B) are read, re-normalised over the scale, and the expected
  score is the prediction (continuous). The probability mass that fell outside the scale is
  recorded. A judgment without a marker is forced to one (the marker is appended and the next-token
  distribution read) when the backend can continue a text, and counted as ``forced``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..aggregation import best_of_n, self_consistency, self_consistency_verdict
from ..config_cli import option
from ..generation.base import SamplingConfig
from ..parsing import Judgment, ParseMode, parse_judgment

StrategyName = Literal["greedy", "self-consistency", "best-of-n", "expected-score"]
STRATEGIES: tuple[StrategyName, ...] = ("greedy", "self-consistency", "best-of-n", "expected-score")
SC_METHODS = ("majority", "mean", "median")
SELECT_BY = ("logprob", "scorer", "majority")
DEFAULT_N = 8  # samples per request for self-consistency and best-of-N (SC@8, BoN@8)
DEFAULT_MAX_NEW_TOKENS = 1024  # room for a rationale before "[RESULT] n" (reference library)

# Sampling for the strategies that sample: the Prometheus reference library's temperature and top_p.
# Its repetition penalty (1.03) is left out on purpose: Inspect and the OpenAI API cannot express
# it, and a default must mean the same in every front end (``--repetition-penalty`` sets it).
REFERENCE_TEMPERATURE = 1.0
REFERENCE_TOP_P = 0.9

NO_LOGPROBS_FALLBACK = "majority (no logprobs)"
ALL_FAILED = "all_failed"
NO_SCORE_PROBS = "no_score_probs"


@dataclass(frozen=True)
class StrategyConfig:
    """A strategy and its settings; validated on construction."""

    name: StrategyName = field(
        default="greedy", metadata=option("how the judgments of a request become one decision", flag="--strategy", choices=STRATEGIES)
    )
    n: int | None = field(
        default=None, metadata=option(f"samples per request for self-consistency / best-of-n (default {DEFAULT_N})")
    )
    sc_method: str = field(default="majority", metadata=option("self-consistency aggregation", choices=SC_METHODS))
    select_by: str = field(default="logprob", metadata=option("best-of-n selection", choices=SELECT_BY))

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.name!r}")
        if self.sc_method not in SC_METHODS:
            raise ValueError(f"sc_method must be one of {', '.join(SC_METHODS)}; got {self.sc_method!r}")
        if self.select_by not in SELECT_BY:
            raise ValueError(f"select_by must be one of {', '.join(SELECT_BY)}; got {self.select_by!r}")
        if self.single:
            if self.n not in (None, 1):
                raise ValueError(f"strategy {self.name} judges once per request: n must be 1, got {self.n}")
            object.__setattr__(self, "n", 1)
        else:
            n = DEFAULT_N if self.n is None else self.n
            if not isinstance(n, int) or n < 2:
                raise ValueError(f"strategy {self.name} needs n >= 2 samples per request, got {self.n}")
            object.__setattr__(self, "n", n)

    @property
    def single(self) -> bool:
        """One greedy judgment per request (greedy, expected-score)."""
        return self.name in ("greedy", "expected-score")

    @property
    def samples(self) -> int:
        return int(self.n or 1)

    @property
    def wants_logprobs(self) -> bool:
        return self.name == "best-of-n" and self.select_by == "logprob"

    def sampling(
        self,
        *,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float = 1.0,
    ) -> SamplingConfig:
        """Decoding settings of this strategy: greedy for single-judgment strategies, else the
        reference sampling (T=1.0, top_p=0.9) unless overridden."""
        if self.single:
            if temperature not in (None, 0, 0.0):
                raise ValueError(f"strategy {self.name} decodes greedily: temperature must be 0, got {temperature}")
            return SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens, repetition_penalty=1.0)
        t = REFERENCE_TEMPERATURE if temperature is None else temperature
        if t <= 0:
            raise ValueError(f"strategy {self.name} samples: temperature must be > 0, got {t}")
        return SamplingConfig(
            temperature=t,
            top_p=REFERENCE_TOP_P if top_p is None else top_p,
            max_new_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty,
        )

    def label(self) -> str:
        if self.name == "self-consistency":
            return f"SC@{self.n} ({self.sc_method})"
        if self.name == "best-of-n":
            return f"BoN@{self.n} ({self.select_by})"
        return self.name


@dataclass(frozen=True)
class Draw:
    """One sampled judgment as a front end saw it."""

    text: str
    mean_logprob: float | None = None  # mean token log-prob of the text (best-of-N by log-prob)
    # expected-score: natural-log probabilities of the verdict tokens right after the marker,
    # keyed by verdict ("1".."5", "A", "B"); None when the backend gave none.
    score_logprobs: Mapping[str, float] | None = None
    forced: bool = False  # the marker was appended to read the distribution
    error: str | None = None  # set when no text was generated (e.g. "too_long": never sent)

    def judgment(self, mode: ParseMode, scale: tuple[int, int]) -> Judgment:
        if self.error is not None:
            return Judgment(text=self.text, rationale="", mode=mode, error=self.error)
        return parse_judgment(self.text, mode=mode, scale=scale)


@dataclass(frozen=True)
class Decision:
    """What a strategy concluded for one request.

    ``value`` is a score (float, possibly continuous) for absolute requests and ``"A"``/``"B"``
    for relative ones; None when nothing could be decided (``error`` says why).
    """

    value: float | str | None
    error: str | None
    n_draws: int
    n_failed: int  # draws that did not parse
    selected: int | None = None  # index of the deciding draw (greedy, best-of-N)
    selected_by: str | None = None
    probs: Mapping[str, float] | None = None  # expected-score: distribution re-normalised over the scale
    mass_outside: float | None = None  # expected-score: probability outside the scale's verdicts
    forced: bool = False

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def preference_a(self) -> float | None:
        """Relative requests: probability (expected-score) or indicator that A is preferred."""
        if self.probs is not None and "A" in self.probs:
            return float(self.probs["A"])
        if self.value in ("A", "B"):
            return 1.0 if self.value == "A" else 0.0
        return None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "value": self.value,
            "error": self.error,
            "n_draws": self.n_draws,
            "n_failed": self.n_failed,
            "selected": self.selected,
            "selected_by": self.selected_by,
        }
        if self.probs is not None:
            out.update(probs=dict(self.probs), mass_outside=self.mass_outside, forced=self.forced)
        return out


Scorer = Callable[[Judgment], float]


def verdict_levels(mode: ParseMode, scale: tuple[int, int]) -> tuple[str, ...]:
    """The verdicts a request can end on: the scale's scores, or A and B."""
    return ("A", "B") if mode == "relative" else tuple(str(s) for s in range(scale[0], scale[1] + 1))


def distribution(score_logprobs: Mapping[str, float], levels: Sequence[str]) -> tuple[dict[str, float], float] | None:
    """(distribution re-normalised over ``levels``, mass outside them); None without any mass."""
    probs = {lvl: math.exp(score_logprobs[lvl]) for lvl in levels if lvl in score_logprobs}
    total = sum(probs.values())
    if total <= 0.0:
        return None
    full = {lvl: probs.get(lvl, 0.0) / total for lvl in levels}
    return full, max(0.0, 1.0 - total)


def expected_value(probs: Mapping[str, float]) -> float:
    return sum(float(k) * p for k, p in probs.items())


def decide(
    draws: Sequence[Draw],
    strategy: StrategyConfig,
    *,
    mode: ParseMode,
    scale: tuple[int, int],
    scorer: Scorer | None = None,
) -> Decision:
    """One decision from the draws of one request (see the module docstring for the rules)."""
    if not draws:
        raise ValueError("decide() needs at least one draw")
    judgments = [d.judgment(mode, scale) for d in draws]
    n_failed = sum(not j.ok for j in judgments)
    common = {"n_draws": len(draws), "n_failed": n_failed}

    if strategy.name == "expected-score":
        return _expected(draws[0], judgments[0], mode, scale, common)
    if strategy.name == "greedy" or len(draws) == 1:
        j = judgments[0]
        return Decision(_value(j), j.error, selected=0, selected_by="greedy", **common)
    if strategy.name == "self-consistency":
        if mode == "absolute":
            agg = self_consistency(judgments, strategy.sc_method)  # type: ignore[arg-type]
            return Decision(agg.value, None if agg.value is not None else ALL_FAILED, **common)
        verdict, _ = self_consistency_verdict(judgments)
        error = None if verdict else ("tie" if n_failed < len(draws) else ALL_FAILED)
        return Decision(verdict, error, **common)
    # best-of-n
    by = strategy.select_by
    logprobs = [d.mean_logprob for d in draws]
    if by == "logprob" and any(
        j.ok and (lp is None or math.isnan(lp)) for j, lp in zip(judgments, logprobs, strict=True)
    ):
        by, label = "majority", NO_LOGPROBS_FALLBACK
    else:
        label = by
    if by == "scorer" and scorer is None:
        raise ValueError("best-of-n by scorer needs a scorer (module:function taking a Judgment)")
    sel = best_of_n(
        judgments,
        by=by,  # type: ignore[arg-type]
        logprobs=[math.nan if lp is None else float(lp) for lp in logprobs] if by == "logprob" else None,
        scorer=scorer,
    )
    if sel.judgment is None:
        return Decision(None, ALL_FAILED, selected_by=label, **common)
    return Decision(_value(sel.judgment), None, selected=sel.index, selected_by=label, **common)


def _value(j: Judgment) -> float | str | None:
    if not j.ok:
        return None
    return float(j.score) if j.mode == "absolute" else j.verdict  # type: ignore[arg-type]


def _expected(draw: Draw, judgment: Judgment, mode: ParseMode, scale: tuple[int, int], common: dict) -> Decision:
    dist = distribution(draw.score_logprobs, verdict_levels(mode, scale)) if draw.score_logprobs else None
    if dist is None:
        return Decision(None, draw.error or NO_SCORE_PROBS, selected=0, selected_by="expected-score", forced=draw.forced, **common)
    probs, outside = dist
    if mode == "absolute":
        value: float | str = expected_value(probs)
    else:
        value = "A" if probs["A"] >= probs["B"] else "B"
    return Decision(
        value,
        None,
        selected=0,
        selected_by="expected-score",
        probs=probs,
        mass_outside=outside,
        forced=draw.forced,
        **common,
    )


def load_scorer(spec: str) -> Scorer:
    """``module:function`` -> callable(Judgment) -> float, for best-of-N by an external scorer."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"scorer must look like 'package.module:function', got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import scorer {spec!r}: {exc}") from exc
    if not callable(fn):
        raise ValueError(f"scorer {spec!r} is not callable")
    return fn
