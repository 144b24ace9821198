"""Re-sampling the inputs that gave no preference pair, up to a budget (``sampling.resample_budget``).

Round 0 is ``samples.jsonl``: N samples per input. Round r >= 1 gives ``resample_n`` more samples
(default N) to every input whose samples so far yield no pair (:func:`curation.pair_status`: no
sample on the label, none far enough from it, or fewer than two parsed) and whose extra samples stay
within the budget. Round r is written to ``resample<r>.jsonl`` by the same resumable
:func:`~selfrat_eval.training.sampling.sample_units` (same line format) under the seed
``derive_seed(seed, RESAMPLE_PART + r)``. A round's inputs follow from the complete files of the
earlier rounds only, so a killed run resumes to the same files as an uninterrupted one.
:func:`merged_records` joins the rounds: one record per input holding all its samples (each sample
tagged with its ``round``), in input order; curation and rejection sampling read that.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..generation.base import DEFAULT_SAMPLING, GenerationBackend, SamplingConfig
from ..generation.factory import release_backend
from ..seeding import derive_seed
from .config import CurationConfig
from .curation import pair_status
from .sampling import Unit, read_samples, sample_units

log = logging.getLogger(__name__)

RESAMPLE_PART = 100
SAMPLES = "samples.jsonl"


class LazyBackend:
    """A generation backend built on first use and shared by every round of one stage (a finished
    stage never loads the model); :meth:`release` frees it."""

    name = "lazy"

    def __init__(self, factory: Callable[[], GenerationBackend]) -> None:
        self._factory = factory
        self._backend: GenerationBackend | None = None

    def get(self) -> GenerationBackend:
        if self._backend is None:
            self._backend = self._factory()
            self.name = getattr(self._backend, "name", "lazy")
        return self._backend

    def generate(self, prompts: Sequence[Any], *, n: int = 1, sampling: SamplingConfig = DEFAULT_SAMPLING, seed: int = 0) -> Any:
        return self.get().generate(prompts, n=n, sampling=sampling, seed=seed)

    def release(self) -> None:
        backend, self._backend = self._backend, None
        release_backend(backend)
        del backend
        gc.collect()


def round_path(it_dir: Path, r: int) -> Path:
    return it_dir / (SAMPLES if r == 0 else f"resample{r}.jsonl")


def merged_records(it_dir: Path, upto: int | None = None) -> list[dict[str, Any]]:
    """Records of ``samples.jsonl`` with the samples of every re-sampling round (``<= upto``)
    appended, in the order of ``samples.jsonl``."""
    records = read_samples(round_path(it_dir, 0))
    for rec in records:
        for s in rec["samples"]:
            s.setdefault("round", 0)
    by_key = {str(r["key"]): r for r in records}
    r = 1
    while (upto is None or r <= upto) and round_path(it_dir, r).exists():
        for extra in read_samples(round_path(it_dir, r)):
            by_key[str(extra["key"])]["samples"].extend({**s, "round": r} for s in extra["samples"])
        r += 1
    return records


def sample_with_budget(
    units: Sequence[Unit],
    backend: GenerationBackend,
    it_dir: Path,
    *,
    n: int,
    sampling: SamplingConfig,
    seed: int,
    batch_size: int,
    curation: CurationConfig,
    budget: int = 0,
    resample_n: int | None = None,
    desc: str = "sampling",
    shard: bool = False,
) -> dict[str, Any]:
    """Round 0, then re-sampling rounds until every input has a pair or has used its budget.
    Returns counts for the stage record (the samples are in the files).

    ``shard``: under a multi-process launch every rank calls this; each round's batches are
    sharded across ranks and written by rank 0, and every rank waits for the file before reading
    it to choose the next round's inputs (so all ranks agree on them)."""
    from .distributed import barrier

    sample_units(units, backend, round_path(it_dir, 0), n=n, sampling=sampling, seed=seed, batch_size=batch_size, desc=desc, shard=shard)
    barrier()
    k = resample_n or n
    extra: Counter[str] = Counter()
    rounds = 0
    first_missing = None
    if budget > 0 and curation.strategy in ("gold", "majority"):
        by_key = {u.key: u for u in units}
        r = 1
        while True:
            recs = {str(x["key"]): x for x in merged_records(it_dir, upto=r - 1)}
            status = {key: pair_status(recs[key], curation) for key in by_key}
            if first_missing is None:
                first_missing = {key for key, st in status.items() if st is not None}
            need = [by_key[key] for key, st in status.items() if st is not None and extra[key] + k <= budget]
            if not need:
                break
            log.info("%s: re-sampling round %d for %d inputs without a pair", desc, r, len(need))
            sample_units(
                need,
                backend,
                round_path(it_dir, r),
                n=k,
                sampling=sampling,
                seed=derive_seed(seed, RESAMPLE_PART + r),
                batch_size=batch_size,
                desc=f"{desc} (re-sample {r})",
                shard=shard,
            )
            barrier()
            for u in need:
                extra[u.key] += k
            rounds = r
            r += 1
    records = merged_records(it_dir)
    n_ok = sum(s["score"] is not None for rec in records for s in rec["samples"])
    n_all = sum(len(rec["samples"]) for rec in records)
    out: dict[str, Any] = {
        "samples": str(round_path(it_dir, 0)),
        "n_inputs": len(records),
        "parse_rate": n_ok / max(1, n_all),
        "n_samples": n_all,
        "resample_rounds": rounds,
        "n_inputs_resampled": len(extra),
        "n_extra_samples": sum(extra.values()),
    }
    if first_missing is not None:
        final = {str(rec["key"]): pair_status(rec, curation) for rec in records}
        out["n_inputs_without_pair_before_resampling"] = len(first_missing)
        out["n_inputs_rescued"] = sum(final[key] is None for key in first_missing)
    return out
