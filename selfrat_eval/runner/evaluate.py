"""``run_evaluation(config)``: one benchmark protocol judged through the cached engine.

The protocol (``selfrat_eval.protocols``) decides the items, the prompts, the strategy's decision
per request, the item outcomes and the metrics; this module only renders the requests for the
backend, runs them through :class:`~selfrat_eval.runner.engine.JudgeEngine` (cache, resume,
re-sampling, length policy) and writes ``results.json`` (+ ``report.html``) into ``config.out``.
:func:`judge_items` is the same path without files, for training and the demo.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..generation.base import GenerationBackend, SamplingConfig
from ..protocols import Draw, ItemResult, Protocol, StrategyConfig, judge_item
from ..protocols.strategy import Scorer, load_scorer
from ..results import REPORT_FILE, RESULTS_FILE, DataInfo, ItemRecord, RunResults, write_results
from .cache import GenerationCache, default_cache_dir, model_fingerprint
from .config import RunConfig
from .engine import EngineStats, JudgedPrompt, JudgeEngine, RenderedRequest
from .scores import add_score_logprobs


class OutputPathError(ValueError):
    """The run folder cannot be written (checked before any model loads)."""


# ---- early checks -------------------------------------------------------------------------------


def check_output_dir(out: str | os.PathLike[str]) -> Path:
    """Create (if needed) and probe the run folder, so a bad ``--out`` fails before generation."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"--out {out}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".selfrat-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise OutputPathError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return path


def _data_revision(source: str) -> str:
    """sha256 of a local data file (or of a folder's data files); ``hub:<id>`` otherwise."""
    path = Path(os.path.expanduser(source))
    if not path.exists():
        return f"hub:{source}"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def load_items(protocol: Protocol) -> tuple[list[Any], DataInfo]:
    """Items of the protocol (after its filters and limit) and a description of the data."""
    loaded = protocol.load()
    items = list(loaded.items)
    if not items:
        raise ValueError(f"no items to evaluate in {loaded.source} (dropped on purpose: {dict(loaded.dropped)})")
    info: DataInfo = {
        "benchmark": protocol.name,
        "source": str(loaded.source),
        "revision": _data_revision(str(loaded.source)),
        "n_loaded": len(items) + sum(loaded.dropped.values()),
        "n_items": len(items),
        "dropped": dict(loaded.dropped),
    }
    return items, info


# ---- rendering ----------------------------------------------------------------------------------


def use_chat(prompt_format: str, backend: GenerationBackend) -> bool:
    """Chat messages unless asked for text, or the model has no chat template."""
    if prompt_format != "auto":
        return prompt_format == "chat"
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None:
        return True  # HTTP chat endpoints apply the server's template
    return bool(getattr(tokenizer, "chat_template", None))


def default_prompt_limit(backend: GenerationBackend, max_new_tokens: int) -> int | None:
    """The model's context minus the generation budget, when the backend knows its context."""
    context = getattr(backend, "max_context", None)
    if not context:
        return None
    return max(1, int(context) - max_new_tokens)


@dataclass
class JudgedItems:
    """What :func:`judge_items` returns: one result and one record per item, in item order."""

    results: list[ItemResult]
    records: list[ItemRecord]
    stats: EngineStats
    n_prompts: int


def _draw_rows(jp: JudgedPrompt) -> list[dict[str, Any]]:
    rows = []
    for s, j in zip(jp.samples, jp.judgments, strict=True):
        lp = s.mean_logprob
        rows.append(
            {
                "text": s.text,
                "value": j.value,
                "error": j.error,
                "mean_logprob": None if math.isnan(lp) else round(lp, 6),
                "finish_reason": s.finish_reason,
            }
        )
    return rows


def judge_items(
    protocol: Protocol,
    items: Sequence[Any],
    backend: GenerationBackend,
    strategy: StrategyConfig,
    sampling: SamplingConfig,
    *,
    cache: GenerationCache,
    seed: int = 0,
    chat: bool = True,
    chunk_size: int = 32,
    max_retries: int = 0,
    max_prompt_tokens: int | None = None,
    scorer: Scorer | None = None,
    show_progress: bool = True,
    after_chunk: Callable[[int], None] | None = None,
) -> JudgedItems:
    """Judge ``items`` under ``protocol`` and ``strategy``: the runner's engine, without files."""
    requests = [protocol.requests(item) for item in items]
    flat = [
        RenderedRequest(r.prompt.messages() if chat else r.prompt.text(), r.mode, r.scale)
        for reqs in requests
        for r in reqs
    ]
    engine = JudgeEngine(
        backend,
        cache,
        chunk_size=chunk_size,
        max_retries=max_retries,
        show_progress=show_progress,
        after_chunk=after_chunk,
        max_prompt_tokens=max_prompt_tokens,
    )
    judged = engine.run(flat, n=strategy.samples, sampling=sampling, seed=seed)
    score_logprobs: list[list[dict[str, float] | None]] | None = None
    forced: list[list[bool]] | None = None
    if strategy.name == "expected-score":
        score_logprobs, forced = add_score_logprobs(backend, cache, flat, judged, show_progress=show_progress)
    results: list[ItemResult] = []
    records: list[ItemRecord] = []
    pos = 0
    for item, reqs in zip(items, requests, strict=True):
        draws: dict[str, list[Draw]] = {}
        rows: dict[str, Any] = {}
        for r in reqs:
            jp = judged[pos]
            draws[r.key] = [
                Draw(
                    s.text,
                    None if math.isnan(s.mean_logprob) else s.mean_logprob,
                    score_logprobs[pos][k] if score_logprobs is not None else None,
                    forced[pos][k] if forced is not None else False,
                    error="too_long" if jp.too_long else None,
                )
                for k, s in enumerate(jp.samples)
            ]
            rows[r.key] = {"draws": _draw_rows(jp), "resampled": jp.resampled}
            pos += 1
        result, decisions = judge_item(protocol, item, draws, strategy, scorer=scorer)
        for key, d in decisions.items():
            rows[key]["decision"] = d.to_dict()
        results.append(result)
        records.append({"id": str(item.id), "result": result, "requests": rows})
    return JudgedItems(results, records, engine.stats, len(flat))


# ---- the run ------------------------------------------------------------------------------------


def model_key_of(cfg: RunConfig, backend: GenerationBackend) -> str:
    """Cache identity of the judge: its id, a fingerprint of its local weight files and, for local
    engines, the numerics it runs with (``hf:bfloat16:cuda``): the same weights judged by another
    engine or dtype give other judgments, which the cache must not serve as this run's."""
    key = str(getattr(backend, "model_id", cfg.judge))
    if cfg.backend.name != "openai":
        fingerprint = model_fingerprint(cfg.judge, cfg.backend.adapter)
        if fingerprint:
            key += f"#{fingerprint}"
    numerics = getattr(backend, "numerics", None)
    if numerics:
        key += f"@{numerics}"
    return key


def run_evaluation(
    cfg: RunConfig,
    backend: GenerationBackend | None = None,
    *,
    after_chunk: Callable[[int], None] | None = None,
) -> RunResults:
    """Run one evaluation and write ``results.json`` (+ ``report.html``) into ``cfg.out``."""
    started = time.time()
    out = check_output_dir(cfg.out)  # a bad --out fails before the data or the model load
    protocol = cfg.protocol()
    items, data_info = load_items(protocol)  # data errors surface before the model loads
    scorer = load_scorer(cfg.scorer) if cfg.scorer else None
    with contextlib.ExitStack() as owned:
        if backend is None:
            from ..generation.factory import build_backend, release_backend

            backend = build_backend(cfg.judge, cfg.backend)
            owned.callback(release_backend, backend)  # built here, stopped here: a vLLM engine would outlive the run
        model_key = model_key_of(cfg, backend)
        cache_dir = None if cfg.no_cache else (cfg.cache_dir or default_cache_dir())
        cache = GenerationCache.for_model(cache_dir, model_key)
        chat = use_chat(cfg.prompt_format, backend)
        sampling = cfg.sampling
        limit = cfg.max_prompt_tokens or default_prompt_limit(backend, sampling.max_new_tokens)
        judged = judge_items(
            protocol,
            items,
            backend,
            cfg.strategy,
            sampling,
            cache=cache,
            seed=cfg.seed,
            chat=chat,
            chunk_size=cfg.chunk_size,
            max_retries=cfg.max_retries,
            max_prompt_tokens=limit,
            scorer=scorer,
            show_progress=cfg.show_progress,
            after_chunk=after_chunk,
        )
    stats = judged.stats
    results: RunResults = {
        "schema": 2,
        "selfrat_eval_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "benchmark": protocol.name,
        "strategy": cfg.strategy.label(),
        "primary_metric": protocol.primary_metric,
        "config": cfg.to_dict(),
        "model": {
            "judge": cfg.judge,
            "backend": getattr(backend, "name", cfg.backend.name),
            "model_id": model_key,
            "adapter": cfg.backend.adapter,
            "prompt_format": "chat" if chat else "text",
        },
        "data": data_info,
        "metrics": protocol.metrics(judged.results),
        "ci": protocol.confidence_intervals(judged.results, n_resamples=cfg.bootstrap, seed=cfg.seed),
        "generation": {
            "n_prompts": judged.n_prompts,
            "samples_per_prompt": cfg.strategy.samples,
            "n_samples": stats.samples,
            "failed_first_pass": stats.failed_first_pass,
            "resampled": stats.resampled,
            "failed_after_retries": stats.failed_final,
            "too_long": stats.too_long,
            "sample_parse_rate_first_pass": 1 - stats.failed_first_pass / max(1, stats.samples),
            "cache_hits": stats.cache_hits,
            "cache_misses": stats.cache_misses,
            "cache_file": str(cache.path) if cache.path else None,
            "seconds": round(time.time() - started, 3),
        },
        "items": judged.records,
    }
    write_results(results, out)
    report = out / REPORT_FILE
    if cfg.report:
        from .report import write_report

        write_report([out], report)
    elif report.exists():
        report.unlink()  # a report of an earlier run must not sit beside these results
    return results


__all__ = [
    "REPORT_FILE",
    "RESULTS_FILE",
    "JudgedItems",
    "OutputPathError",
    "check_output_dir",
    "judge_items",
    "load_items",
    "run_evaluation",
    "use_chat",
]
