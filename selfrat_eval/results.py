"""The results schema of one evaluation run (``results.json``), written by the runner and read by
the report, the comparison and the demo. Strict JSON: undefined numbers (NaN) are written as null.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TypedDict

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
SCHEMA_VERSION = 2


class DrawRecord(TypedDict):
    text: str
    value: int | str | None  # parsed verdict of this draw
    error: str | None
    mean_logprob: float | None
    finish_reason: str | None


class RequestRecord(TypedDict, total=False):
    decision: dict[str, Any]  # Decision.to_dict(): value, error, n_draws, n_failed, selected, selected_by, probs...
    draws: list[DrawRecord]
    resampled: int


class ItemRecord(TypedDict):
    id: str
    result: dict[str, Any]  # the protocol's item result (pred/gold/group or outcome/subset, counts)
    requests: dict[str, RequestRecord]  # by request key: "score", "chosen_first", ...


class DataInfo(TypedDict):
    benchmark: str
    source: str
    revision: str
    n_loaded: int
    n_items: int
    dropped: dict[str, int]


class ModelInfo(TypedDict):
    judge: str
    backend: str
    model_id: str
    adapter: str | None
    prompt_format: str


class GenerationInfo(TypedDict):
    n_prompts: int
    samples_per_prompt: int
    n_samples: int
    failed_first_pass: int
    resampled: int
    failed_after_retries: int
    too_long: int
    sample_parse_rate_first_pass: float
    cache_hits: int
    cache_misses: int
    cache_file: str | None
    seconds: float


class RunResults(TypedDict):
    schema: int
    selfrat_eval_version: str
    created: str
    benchmark: str
    strategy: str  # label, e.g. "SC@8 (majority)"
    primary_metric: str
    config: dict[str, Any]
    model: ModelInfo
    data: DataInfo
    metrics: dict[str, float | None]  # the protocol's metrics, by name
    ci: dict[str, list[float | None]]  # 95% bootstrap CIs of the headline metrics
    generation: GenerationInfo
    items: list[ItemRecord]


def clean(value: Any) -> Any:
    """Strict JSON: NaN/inf become null, numpy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def write_results(results: RunResults, out: str | os.PathLike[str]) -> Path:
    """Write ``results.json`` atomically (a killed write never leaves half a file)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_FILE
    tmp = folder / (RESULTS_FILE + ".tmp")
    tmp.write_text(json.dumps(clean(results), indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    tmp.replace(path)
    return path


def load_results(run: str | os.PathLike[str]) -> RunResults:
    """``results.json`` of a run folder (or the file itself); a clear error for anything else."""
    path = Path(run)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {RESULTS_FILE} in {run}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a results file ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not a selfrat-eval results file of schema {SCHEMA_VERSION}")
    return data  # type: ignore[return-value]


def metric(results: RunResults, name: str) -> float | None:
    """A metric value (None when undefined or absent)."""
    value = results["metrics"].get(name)
    return None if value is None else float(value)
