"""``run_evaluation(config)``: load a benchmark, judge it through the cache, score it, write results.

Outputs in ``config.out``: ``results.json`` (config, model, data source/revision, metrics with
bootstrap CIs, parse rates, generation counters, per-item judgments) and ``report.html``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..aggregation import both_orders_outcome, pointwise_pair_outcome
from ..formats import JudgePrompt, absolute_prompt, relative_prompt
from ..generation.base import GenerationBackend
from ..loaders import (
    BIGGEN_RESULTS_HUB_ID,
    FEEDBACK_BENCH_HUB_ID,
    REWARDBENCH_HUB_ID,
    load_biggen_human_eval,
    load_custom_pointwise,
    load_feedback_bench,
    load_rewardbench,
)
from ..metrics import (
    confusion_matrix,
    grouped_score_metrics,
    rewardbench_scores,
    score_metrics,
    subset_accuracy,
)
from ..records import PairwiseItem, PointwiseItem
from ..rubric import Rubric, get_rubric
from .cache import GenerationCache, default_cache_dir, model_fingerprint
from .config import RunConfig
from .engine import JudgedPrompt, JudgeEngine, JudgeRequest
from .strategies import Decision, Scorer, decide_score, decide_verdict, load_scorer

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
# RewardBench pairs carry no rubric: grade each section on the matching built-in rubric.
SECTION_RUBRICS = {
    "Chat": "helpfulness",
    "Chat Hard": "instruction_following",
    "Safety": "harmlessness",
    "Reasoning": "correctness",
    "Prior Sets": "helpfulness",
}
GROUP_KEYS = {"biggen": "capability", "custom": "group"}


# ---- data ---------------------------------------------------------------------------------------


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


def load_items(cfg: RunConfig) -> tuple[list[Any], dict[str, Any]]:
    """Items of the configured benchmark (``--limit`` keeps the first N) and a data description."""
    split_kw = {"split": cfg.split} if cfg.split else {}
    rubric = get_rubric(cfg.rubric) if cfg.rubric and cfg.rubric != "auto" else None
    if cfg.benchmark == "rewardbench":
        loaded = load_rewardbench(
            cfg.data or REWARDBENCH_HUB_ID, subsets=cfg.subsets, sections=cfg.sections, **split_kw
        )
    elif cfg.benchmark == "biggen":
        loaded = load_biggen_human_eval(cfg.data or BIGGEN_RESULTS_HUB_ID, **split_kw)
    elif cfg.benchmark == "feedback_bench":
        loaded = load_feedback_bench(cfg.data or FEEDBACK_BENCH_HUB_ID, **split_kw)
    else:
        loaded = load_custom_pointwise(cfg.data, rubric=rubric, **split_kw)  # type: ignore[arg-type]
    items = list(loaded.items)
    if rubric is not None and cfg.benchmark in ("biggen", "feedback_bench"):
        items = [_with_rubric(i, rubric) for i in items]
    total = len(items)
    if cfg.limit is not None:
        items = items[: cfg.limit]
    if not items:
        raise ValueError(f"no items to evaluate in {loaded.source} (after filters)")
    info = {
        "benchmark": cfg.benchmark,
        "source": str(loaded.source),
        "revision": _data_revision(str(loaded.source)),
        "n_loaded": total,
        "n_items": len(items),
        "dropped": dict(loaded.dropped),
    }
    return items, info


def _with_rubric(item: PointwiseItem, rubric: Rubric) -> PointwiseItem:
    from dataclasses import replace

    return replace(item, rubric=rubric)


def _pair_rubric(item: PairwiseItem, cfg: RunConfig) -> Rubric:
    if item.rubric is not None and (cfg.rubric in (None, "auto")):
        return item.rubric
    if cfg.rubric and cfg.rubric != "auto":
        return get_rubric(cfg.rubric)
    return get_rubric(SECTION_RUBRICS.get(item.section or "", "helpfulness"))


# ---- requests -----------------------------------------------------------------------------------


def _render(prompt: JudgePrompt, chat: bool) -> Any:
    return prompt.messages() if chat else prompt.text()


def build_requests(
    items: Sequence[Any], cfg: RunConfig, chat: bool
) -> tuple[list[JudgeRequest], list[list[int]]]:
    """Flat request list and, per item, the indices of its requests.

    pointwise item -> [absolute]; RewardBench pointwise -> [chosen, rejected];
    RewardBench pairwise -> [A=chosen/B=rejected, A=rejected/B=chosen].
    """
    requests: list[JudgeRequest] = []
    layout: list[list[int]] = []
    for item in items:
        start = len(requests)
        if isinstance(item, PointwiseItem):
            p = absolute_prompt(item.instruction, item.response, item.rubric, item.reference_answer)
            requests.append(JudgeRequest(_render(p, chat), "absolute", item.rubric.scale))
        else:
            rubric = _pair_rubric(item, cfg)
            if cfg.mode == "pointwise":
                for response in (item.chosen, item.rejected):
                    p = absolute_prompt(item.prompt, response, rubric, item.reference_answer)
                    requests.append(JudgeRequest(_render(p, chat), "absolute", rubric.scale))
            else:
                for a, b in ((item.chosen, item.rejected), (item.rejected, item.chosen)):
                    p = relative_prompt(item.prompt, a, b, rubric, item.reference_answer)
                    requests.append(JudgeRequest(_render(p, chat), "relative", rubric.scale))
        layout.append(list(range(start, len(requests))))
    return requests, layout


# ---- backend ------------------------------------------------------------------------------------


def make_backend(cfg: RunConfig) -> GenerationBackend:
    from ..generation.factory import load_backend

    if cfg.backend == "hf":
        return load_backend(
            "hf",
            cfg.judge,
            adapter=cfg.adapter,
            gguf_file=cfg.gguf_file,
            batch_size=cfg.batch_size,
            device=cfg.device,
            dtype=cfg.dtype,
        )
    if cfg.backend == "vllm":
        return load_backend(
            "vllm",
            cfg.judge,
            adapter=cfg.adapter,
            tensor_parallel_size=cfg.tensor_parallel_size,
            dtype=cfg.dtype or "auto",
        )
    if cfg.backend == "openai":
        return load_backend("openai", cfg.judge, base_url=cfg.base_url)
    raise ValueError(f"unknown backend {cfg.backend!r}")


def _use_chat(cfg: RunConfig, backend: GenerationBackend) -> bool:
    if cfg.prompt_format != "auto":
        return cfg.prompt_format == "chat"
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None:
        return True  # HTTP chat endpoints apply the server's template
    return bool(getattr(tokenizer, "chat_template", None))


# ---- scoring ------------------------------------------------------------------------------------


def _judgment_rows(jp: JudgedPrompt) -> list[dict[str, Any]]:
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


def _prompt_record(jp: JudgedPrompt, d: Decision) -> dict[str, Any]:
    record: dict[str, Any] = {
        "n_valid": d.n_valid,
        "n_failed": d.n_failed,
        "resampled": jp.resampled,
        "selected": d.selected,
        "judgments": _judgment_rows(jp),
    }
    if d.verdict is not None:
        record["verdict"] = d.verdict.verdict
    else:
        record["pred"] = d.score
    return record


def rewardbench_bootstrap(
    outcomes: Sequence[float],
    subsets: Sequence[str],
    *,
    n_resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, list[float]]:
    """Percentile CIs of every section score and ``overall``, resampling pairs within each subset
    (stratified, so the official subset weights stay meaningful)."""
    if n_resamples <= 0:
        return {}
    rng = np.random.default_rng(seed)
    by_subset: dict[str, np.ndarray] = {}
    for o, s in zip(outcomes, subsets, strict=True):
        by_subset.setdefault(s, [])  # type: ignore[arg-type]
        by_subset[s].append(o)  # type: ignore[attr-defined]
    means = {
        s: np.asarray(v, float)[rng.integers(0, len(v), (n_resamples, len(v)))].mean(1)
        for s, v in by_subset.items()
    }
    draws: dict[str, list[float]] = {}
    for b in range(n_resamples):
        for key, value in rewardbench_scores({s: float(m[b]) for s, m in means.items()}).items():
            draws.setdefault(key, []).append(value)
    alpha = (1 - confidence) / 2
    return {k: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] for k, v in draws.items()}


def score_pointwise(
    items: Sequence[PointwiseItem], decisions: Sequence[Decision], cfg: RunConfig
) -> dict[str, Any]:
    preds = [d.score for d in decisions]
    golds = [i.gold_score for i in items]
    scale = items[0].rubric.scale
    n_parsed = sum(p is not None for p in preds)
    metrics: dict[str, Any] = {
        "kind": "pointwise",
        "n": len(items),
        "parse_rate": n_parsed / len(items),
        "n_failed": len(items) - n_parsed,
        "scale": list(scale),
        "pred_distribution": _distribution(preds, scale),
    }
    with_gold = [k for k, g in enumerate(golds) if g is not None]
    if not with_gold:
        metrics["note"] = "no gold scores: agreement metrics skipped"
        return metrics
    p = [preds[k] for k in with_gold]
    g = [float(golds[k]) for k in with_gold]  # type: ignore[arg-type]
    group_key = GROUP_KEYS.get(cfg.benchmark)
    labels = [items[k].groups.get(group_key, "") for k in with_gold] if group_key else []
    if group_key and any(labels):
        grouped = grouped_score_metrics(
            p, g, [lbl or "(none)" for lbl in labels], bootstrap=cfg.bootstrap, seed=cfg.seed
        )
        metrics.update(
            pooled=grouped["pooled"], groups=grouped["groups"], macro=grouped["macro"], group_key=group_key
        )
    else:
        metrics["pooled"] = score_metrics(p, g, bootstrap=cfg.bootstrap, seed=cfg.seed)
    metrics["gold_distribution"] = _distribution(g, scale)
    metrics["confusion_matrix"] = confusion_matrix(p, [int(x) for x in g], scale)
    return metrics


def _distribution(values: Sequence[float | None], scale: tuple[int, int] | Sequence[int]) -> dict[str, int]:
    low, high = scale
    counts = {str(level): 0 for level in range(low, high + 1)}
    counts["failed"] = 0
    for v in values:
        if v is None:
            counts["failed"] += 1
        else:
            key = str(int(math.floor(v + 0.5)))
            counts[key] = counts.get(key, 0) + 1
    return counts


def score_rewardbench(
    items: Sequence[PairwiseItem], outcomes: Sequence[float], n_decided: int, cfg: RunConfig
) -> dict[str, Any]:
    subsets = [i.subset for i in items]
    per_subset = subset_accuracy(outcomes, subsets)
    return {
        "kind": "rewardbench",
        "mode": cfg.mode,
        "n": len(items),
        "parse_rate": n_decided / len(items),
        "n_failed": len(items) - n_decided,
        "subsets": per_subset,
        "subset_counts": {s: subsets.count(s) for s in per_subset},
        "sections": rewardbench_scores(per_subset),
        "ci": rewardbench_bootstrap(outcomes, subsets, n_resamples=cfg.bootstrap, seed=cfg.seed),
        "outcome_counts": {
            "win": sum(o == 1.0 for o in outcomes),
            "loss": sum(o == 0.0 for o in outcomes),
            "tie_or_failed": sum(o not in (0.0, 1.0) for o in outcomes),
        },
    }


# ---- the run ------------------------------------------------------------------------------------


def run_evaluation(
    cfg: RunConfig,
    backend: GenerationBackend | None = None,
    *,
    after_chunk: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run one evaluation and write ``results.json`` (+ ``report.html``) into ``cfg.out``."""
    started = time.time()
    items, data_info = load_items(cfg)  # data errors surface before the model loads
    scorer: Scorer | None = load_scorer(cfg.scorer) if cfg.scorer else None
    backend = backend or make_backend(cfg)
    model_key = str(getattr(backend, "model_id", cfg.judge))
    fingerprint = model_fingerprint(cfg.judge, cfg.adapter) if cfg.backend != "openai" else ""
    if fingerprint:
        model_key += f"#{fingerprint}"
    cache_dir = None if cfg.no_cache else (cfg.cache_dir or default_cache_dir())
    cache = GenerationCache.for_model(cache_dir, model_key)
    chat = _use_chat(cfg, backend)
    requests, layout = build_requests(items, cfg, chat)
    engine = JudgeEngine(
        backend,
        cache,
        chunk_size=cfg.chunk_size,
        max_retries=cfg.max_retries,
        show_progress=cfg.show_progress,
        after_chunk=after_chunk,
    )
    judged = engine.run(requests, n=cfg.n, sampling=cfg.sampling, seed=cfg.seed)

    per_item: list[dict[str, Any]] = []
    if cfg.benchmark == "rewardbench":
        outcomes: list[float] = []
        decided = 0
        for item, idx in zip(items, layout, strict=True):
            a, b = judged[idx[0]], judged[idx[1]]
            record: dict[str, Any] = {"id": item.id, "subset": item.subset, "section": item.section}
            if cfg.mode == "pointwise":
                dc = decide_score(
                    a, cfg.strategy, sc_method=cfg.sc_method, select_by=cfg.select_by, scorer=scorer
                )
                dr = decide_score(
                    b, cfg.strategy, sc_method=cfg.sc_method, select_by=cfg.select_by, scorer=scorer
                )
                outcome = pointwise_pair_outcome(dc.score, dr.score)
                ok = dc.score is not None and dr.score is not None
                record.update(chosen=_prompt_record(a, dc), rejected=_prompt_record(b, dr))
            else:
                d1 = decide_verdict(a, cfg.strategy, select_by=cfg.select_by, scorer=scorer)
                d2 = decide_verdict(b, cfg.strategy, select_by=cfg.select_by, scorer=scorer)
                outcome = both_orders_outcome(
                    d1.verdict, d2.verdict, require_consistent=cfg.require_consistent
                )  # type: ignore[arg-type]
                ok = bool(d1.verdict and d1.verdict.ok and d2.verdict and d2.verdict.ok)
                record.update(chosen_first=_prompt_record(a, d1), chosen_second=_prompt_record(b, d2))
            decided += ok
            record["outcome"] = outcome
            outcomes.append(outcome)
            per_item.append(record)
        metrics = score_rewardbench(items, outcomes, decided, cfg)
    else:
        decisions = []
        for item, idx in zip(items, layout, strict=True):
            jp = judged[idx[0]]
            d = decide_score(
                jp, cfg.strategy, sc_method=cfg.sc_method, select_by=cfg.select_by, scorer=scorer
            )
            decisions.append(d)
            per_item.append(
                {"id": item.id, "gold": item.gold_score, "groups": dict(item.groups), **_prompt_record(jp, d)}
            )
        metrics = score_pointwise(items, decisions, cfg)

    stats = engine.stats
    n_samples_final = sum(len(j.samples) for j in judged)
    results = {
        "selfrat_eval_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": cfg.to_dict(),
        "model": {
            "judge": cfg.judge,
            "backend": cfg.backend,
            "model_id": model_key,
            "adapter": cfg.adapter,
            "prompt_format": "chat" if chat else "text",
        },
        "data": data_info,
        "metrics": metrics,
        "generation": {
            "n_prompts": len(requests),
            "samples_per_prompt": cfg.n,
            "n_samples": n_samples_final,
            "failed_first_pass": stats.failed_first_pass,
            "resampled": stats.resampled,
            "failed_after_retries": stats.failed_final,
            "sample_parse_rate_first_pass": 1 - stats.failed_first_pass / max(1, stats.samples),
            "sample_parse_rate": 1 - stats.failed_final / max(1, n_samples_final),
            "cache_hits": stats.cache_hits,
            "cache_misses": stats.cache_misses,
            "cache_file": str(cache.path) if cache.path else None,
            "seconds": round(time.time() - started, 3),
        },
        "items": per_item,
    }
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (RESULTS_FILE + ".tmp")
    results = _clean(results)
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    tmp.replace(out / RESULTS_FILE)
    if cfg.report:
        from .report import write_report

        write_report([out], out / REPORT_FILE)
    return results


def _clean(value: Any) -> Any:
    """Strict JSON: NaN/inf (undefined correlations) become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def load_results(run: str | os.PathLike[str]) -> dict[str, Any]:
    """``results.json`` of a run folder (or the file itself)."""
    path = Path(run)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no results.json in {run}")
    return json.loads(path.read_text(encoding="utf-8"))
