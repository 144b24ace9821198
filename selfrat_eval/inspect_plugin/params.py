"""Task parameters (``-T name=value``): the :class:`BenchmarkOptions` fields plus the strategy.

The names are the ones every front end uses; values are validated by the protocol and the strategy
(this module only parses them), and a parameter left out means the protocol's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from inspect_ai.model import GenerateConfig

from ..protocols import BenchmarkOptions, StrategyConfig, get_protocol

OPTION_PARAMS: tuple[str, ...] = tuple(f.name for f in fields(BenchmarkOptions))
STRATEGY_PARAMS: tuple[str, ...] = ("strategy", "n", "sc_method", "select_by", "scorer")
PARAMS: tuple[str, ...] = (*OPTION_PARAMS, *STRATEGY_PARAMS)


@dataclass(frozen=True)
class JudgeSpec:
    """What one selfrat task judges, and how."""

    benchmark: str
    options: BenchmarkOptions
    strategy: StrategyConfig
    scorer: str | None = None  # best-of-n by scorer: "module:function"

    @classmethod
    def from_params(cls, benchmark: str, params: Mapping[str, Any]) -> JudgeSpec:
        """From task parameters; unknown names and invalid values raise ``ValueError``."""
        unknown = sorted(set(params) - set(PARAMS) - {"model"})  # Inspect may pass `model` along
        if unknown:
            raise ValueError(
                f"selfrat_eval/{benchmark}: unknown task parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(PARAMS)}"
            )
        options = BenchmarkOptions.from_mapping(
            {k: v for k, v in params.items() if k in OPTION_PARAMS}, where=f"selfrat_eval/{benchmark}"
        )
        get_protocol(benchmark, options)  # options that mean nothing for the benchmark fail here
        strategy = StrategyConfig(
            name=str(params.get("strategy") or "greedy"),  # type: ignore[arg-type]
            n=_int(params.get("n"), "n"),
            sc_method=str(params.get("sc_method") or "majority"),
            select_by=str(params.get("select_by") or "logprob"),
        )
        scorer = params.get("scorer") or None
        if strategy.name == "best-of-n" and strategy.select_by == "scorer" and not scorer:
            raise ValueError("best-of-n by scorer needs -T scorer=package.module:function")
        return cls(benchmark, options, strategy, None if scorer is None else str(scorer))

    @classmethod
    def from_solver_args(
        cls, benchmark: str, options: Mapping[str, Any] | None, strategy: Mapping[str, Any] | None
    ) -> JudgeSpec:
        return cls.from_params(benchmark, {**(options or {}), **(strategy or {})})

    def options_args(self) -> dict[str, Any]:
        """The options as plain values (solver and metric arguments, shown in the log)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self.options).items()
            if v is not None
        }

    def strategy_args(self) -> dict[str, Any]:
        s = self.strategy
        args: dict[str, Any] = {
            "strategy": s.name,
            "n": s.n,
            "sc_method": s.sc_method,
            "select_by": s.select_by,
        }
        if self.scorer:
            args["scorer"] = self.scorer
        return args

    def generate_config(self) -> GenerateConfig:
        """The strategy's decoding defaults; Inspect's own options (``--temperature`` ...) override."""
        sampling = self.strategy.sampling()
        return GenerateConfig(
            temperature=sampling.temperature,
            # top_p=1.0 is a no-op under greedy decoding, and some APIs refuse temperature + top_p.
            top_p=None if self.strategy.single else sampling.top_p,
            max_tokens=sampling.max_new_tokens,
        )


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
