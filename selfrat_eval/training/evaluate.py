"""Held-out evaluation of a judge: the ``feedback_bench`` protocol through the native runner.

The pipeline writes its held-out split once (``data/heldout.jsonl``, Feedback Bench layout). Each
judge is then one :func:`selfrat_eval.runner.evaluate.run_evaluation` per strategy of
``evaluation.strategies``, written to
``<stage>/eval/<strategy>/results.json`` (+ ``report.html``). Generations go through the runner's
cache under ``evaluation.cache_dir`` (default ``<output_dir>/cache``), keyed by model, prompt,
sampling and seed, so a resumed or repeated evaluation regenerates nothing, and strategies that
share generations (greedy and expected-score; self-consistency and best-of-N with the same N)
share them. Metric names are the protocol's (``pearson``, ``spearman``, ``accuracy``, ...).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..seeding import derive_seed

if TYPE_CHECKING:
    from ..protocols import BenchmarkOptions, StrategyConfig
    from ..runner.config import RunConfig
    from .config import EvalConfig, TrainConfig
    from .modeling import ModelRef

EVAL_SEED_PART = 9999  # derive_seed(seed, EVAL_SEED_PART): the seed of every held-out evaluation
BENCHMARK = "feedback_bench"
HEADLINE = ("pearson", "spearman", "kendall", "accuracy", "mae", "parse_rate", "n", "n_failed", "sample_parse_rate")


def strategy_config(entry: Any, e: EvalConfig) -> StrategyConfig:
    """A strategy from a name or a ``{name, n, sc_method, select_by}`` mapping; unset settings come
    from the ``evaluation`` section."""
    from ..protocols import StrategyConfig

    spec = {"name": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, Mapping) else None
    if spec is None or "name" not in spec:
        raise ValueError(f"a strategy is a name or a mapping with 'name', got {entry!r}")
    unknown = set(spec) - {"name", "n", "sc_method", "select_by"}
    if unknown:
        raise ValueError(f"strategy {entry!r}: unknown key(s) {sorted(unknown)}")
    name = spec["name"]
    single = name in ("greedy", "expected-score")
    return StrategyConfig(
        name=name,
        n=None if single else int(spec.get("n", e.n)),
        sc_method=spec.get("sc_method", e.sc_method),
        select_by=spec.get("select_by", e.select_by),
    )


def strategy_configs(e: EvalConfig) -> list[StrategyConfig]:
    """The strategies every judge is evaluated with (validated; duplicates removed, order kept)."""
    if not isinstance(e.strategies, list):
        raise ValueError(f"strategies must be a list, got {e.strategies!r}")
    out: list[StrategyConfig] = []
    for entry in e.strategies:
        s = strategy_config(entry, e)
        if s not in out:
            out.append(s)
    return out


def strategy_slug(s: StrategyConfig) -> str:
    """Folder name of a strategy's run: ``greedy``, ``expected-score``, ``sc8-majority``, ``bon8-logprob``."""
    if s.name == "self-consistency":
        return f"sc{s.n}-{s.sc_method}"
    if s.name == "best-of-n":
        return f"bon{s.n}-{s.select_by}"
    return s.name


def cache_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.evaluation.cache_dir) if cfg.evaluation.cache_dir else Path(cfg.output_dir) / "cache"


def run_config(
    cfg: TrainConfig,
    judge: ModelRef,
    out: Path,
    strategy: StrategyConfig,
    *,
    heldout: Path | None = None,
    benchmark: str = BENCHMARK,
    options: BenchmarkOptions | None = None,
) -> RunConfig:
    """The runner settings of one evaluation of a training run's judge: ``feedback_bench`` on the
    held-out file by default. Backend, decoding, seed and cache are the same for every judge."""
    from ..protocols import BenchmarkOptions
    from ..runner.config import RunConfig
    from .sampling import backend_config

    e = cfg.evaluation
    if options is None:
        if heldout is None:
            raise ValueError("run_config needs the held-out file or benchmark options")
        options = BenchmarkOptions(data=str(heldout), reference=cfg.data.use_reference_answer)
    return RunConfig(
        judge=judge.path,
        benchmark=benchmark,
        out=str(out),
        options=options,
        strategy=strategy,
        backend=backend_config(cfg, judge.gguf_file),
        temperature=None if strategy.single else e.temperature,
        top_p=None if strategy.single else e.top_p,
        max_new_tokens=e.max_new_tokens,
        seed=derive_seed(cfg.seed, EVAL_SEED_PART),
        max_retries=e.max_retries,
        chunk_size=e.chunk_size,
        cache_dir=str(cache_dir(cfg)),
        bootstrap=e.bootstrap,
        show_progress=True,
    )


def headline(results: Mapping[str, Any]) -> dict[str, Any]:
    """The curve/report numbers of one run: the protocol's metrics by name, Pearson's CI."""
    m = results["metrics"]
    out: dict[str, Any] = {k: m.get(k) for k in HEADLINE}
    out["pearson_ci"] = results.get("ci", {}).get("pearson")
    return out


def evaluate_judge(
    cfg: TrainConfig,
    judge: ModelRef,
    heldout: Path,
    out_dir: Path,
    strategies: Sequence[StrategyConfig],
) -> dict[str, dict[str, Any]]:
    """Run every strategy on the held-out file; ``{slug: {strategy, results, metrics...}}``.

    The judge is loaded once and shared by its strategies; runs whose generations are cached cost
    no generation."""
    from ..generation.factory import build_backend, release_backend
    from ..results import clean
    from ..runner.evaluate import run_evaluation

    backend = None
    summary: dict[str, dict[str, Any]] = {}
    try:
        for strategy in strategies:
            slug = strategy_slug(strategy)
            rc = run_config(cfg, judge, out_dir / slug, strategy, heldout=heldout)
            if backend is None:
                backend = build_backend(judge.path, rc.backend)
            results = run_evaluation(rc, backend)
            summary[slug] = clean(  # as in results.json: undefined numbers are None
                {
                    "strategy": results["strategy"],
                    "results": str(out_dir / slug / "results.json"),
                    "cache_misses": results["generation"]["cache_misses"],
                    **headline(results),
                }
            )
    finally:
        release_backend(backend)
        del backend
        gc.collect()
    return summary
