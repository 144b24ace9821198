"""Held-out evaluation of a judge: sample, parse, and score with ``selfrat_eval.metrics``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..aggregation import self_consistency
from ..generation.base import SamplingConfig
from ..metrics import confusion_matrix, score_metrics
from ..records import PointwiseItem
from .config import TrainConfig
from .data import judge_messages
from .sampling import Unit, derive_seed, make_backend, read_samples, sample_units


def evaluate_judge(
    model_path: str,
    items: Sequence[PointwiseItem],
    out_dir: Path,
    cfg: TrainConfig,
    *,
    gguf_file: str | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Metrics of one judge on ``items`` (cached in ``out_dir/metrics.json``)."""
    metrics_path = out_dir / "metrics.json"
    if metrics_path.exists():
        return json.loads(metrics_path.read_text(encoding="utf-8"))
    e = cfg.evaluation
    units = [
        Unit(
            key=str(it.id),
            prompt=judge_messages(it, cfg.data.use_reference_answer),
            extra={"gold": it.gold_score},
            scale=it.rubric.scale,
        )
        for it in items
    ]
    sampling = SamplingConfig(
        temperature=e.temperature,
        top_p=cfg.sampling.top_p if e.temperature > 0 else 1.0,
        max_new_tokens=e.max_new_tokens,
        repetition_penalty=cfg.sampling.repetition_penalty if e.temperature > 0 else 1.0,
    )
    n = 1 if sampling.greedy else e.n
    path = sample_units(
        units,
        lambda: make_backend(model_path, cfg, gguf_file=gguf_file),
        out_dir / "predictions.jsonl",
        n=n,
        sampling=sampling,
        seed=derive_seed(cfg.seed, 9999),
        batch_size=e.batch_size,
        desc=f"evaluate {label}".strip(),
        fault_stage="eval",
    )
    records = read_samples(path)
    gold = [float(r["gold"]) for r in records]
    first = [r["samples"][0]["score"] for r in records]
    first_f = [None if s is None else float(s) for s in first]
    out: dict[str, Any] = {"judge": label, "model": model_path, "n_items": len(records)}
    out["first_sample"] = score_metrics(first_f, gold, bootstrap=e.bootstrap, seed=cfg.seed)
    out["confusion_matrix"] = confusion_matrix(first_f, [int(g) for g in gold])
    if n > 1:
        agg = [self_consistency([s["score"] for s in r["samples"]], "majority").value for r in records]
        out["self_consistency"] = score_metrics(agg, gold, bootstrap=e.bootstrap, seed=cfg.seed)
    errors: dict[str, int] = {}
    for r in records:
        for s in r["samples"]:
            if s["error"]:
                errors[s["error"]] = errors.get(s["error"], 0) + 1
    out["parse_errors"] = errors
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(out, indent=1, default=float), encoding="utf-8")
    return out
