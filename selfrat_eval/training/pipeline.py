"""Orchestration: seed SFT -> (sample -> curate -> DPO -> evaluate) x T, with resume.

Layout of ``output_dir``::

    manifest.json            config fingerprint + the status and outputs of every finished stage
    config.yaml              the resolved config
    data/splits.json         held-out, SFT and per-iteration input ids, decontamination counts
    data/heldout.jsonl       the held-out split (Feedback Bench layout), written once
    data/validation.jsonl    the validation split of the gate (``validation.size`` > 0)
    cache/                   the runner's generation cache of every held-out evaluation
    sft/pointwise/model  sft/eval/<strategy>/results.json     (judge 0; ``base/eval`` when SFT is skipped)
    iter1/samples.jsonl  iter1/resample<r>.jsonl  iter1/pairs.jsonl  iter1/curation.json
    iter1/dpo/{checkpoints,model}  iter1/eval/<strategy>/results.json
    <judge>/validation/greedy/results.json   the gate's verdict input (``validation.size`` > 0)
    rs_sft/{model,eval}      baseline ``rejection-sampling``: RS-SFT of the seed on iteration 1's samples
    iter2/...
    curve.json  report.md

A stage recorded as done in the manifest is skipped; an interrupted stage resumes from its own
files (complete sample batches, trainer checkpoints, the evaluation cache). The manifest refuses a
changed config. Held-out evaluation is the ``feedback_bench`` protocol through the native runner
(:mod:`.evaluate`).

With ``validation.size`` > 0 every trained judge passes a gate (stage ``iter<t>/validation``): it is
kept only if its greedy Pearson on the validation split reaches the incumbent's plus
``validation.min_gain``; otherwise iteration t's judge *is* the incumbent (its ``iter<t>/eval`` is
the incumbent's, from the cache) and iteration t+1 samples from and trains the incumbent. With
``validation.draws`` = k > 1, DPO runs k times on the same pairs (``iter<t>/dpo``, then
``iter<t>/dpo-draw<d>`` for the further draws d), each draw is validated (``iter<t>/validation``,
``iter<t>/dpo-draw<d>/validation``), and the best of them is the candidate the gate weighs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..records import PointwiseItem
from ..seeding import derive_seed
from .config import ConfigError, TrainConfig
from .curation import curate
from .data import (
    check_pool_size,
    feedback_row,
    iteration_slices,
    judge_messages,
    load_heldout,
    load_pool,
    read_jsonl,
    sft_and_iteration_pool,
    split_heldout,
    validation_split,
    write_jsonl,
)
from .distributed import barrier as _barrier
from .distributed import init_distributed
from .distributed import is_main as _is_main
from .modeling import ModelRef, free_accelerator_memory
from .resampling import LazyBackend, merged_records, sample_with_budget
from .sampling import Unit, check_sampling_launch, make_backend, sample_units, sampling_config

log = logging.getLogger(__name__)


class Manifest:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def open(cls, out: Path, cfg: TrainConfig) -> Manifest:
        path = out / "manifest.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("fingerprint") != cfg.fingerprint():
                raise ConfigError(
                    f"{out}: holds a run with a different config (fingerprint {data.get('fingerprint')} != "
                    f"{cfg.fingerprint()}); use a new output_dir or restore the original config"
                )
            return cls(path, data)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
        m = cls(path, {"fingerprint": cfg.fingerprint(), "method": cfg.method, "stages": {}})
        m.save()
        return m

    def done(self, stage: str) -> dict[str, Any] | None:
        entry = self.data["stages"].get(stage)
        return entry if entry and entry.get("status") == "done" else None

    def finish(self, stage: str, **info: Any) -> None:
        self.data["stages"][stage] = {"status": "done", "finished_at": time.time(), **info}
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str), encoding="utf-8")
        tmp.replace(self.path)


class StopAfter(Exception):
    """Raised once the requested stage is done; the run stops there and resumes on the next call."""


def iteration_counts(cfg: TrainConfig) -> list[int]:
    """Inputs per self-training iteration; none for ``sft-only``."""
    return list(cfg.iterations) if cfg.method != "sft-only" else []


def dpo_seed(cfg: TrainConfig, iteration: int, draw: int | None = None) -> int:
    """The DPO trainer's seed in ``iteration`` for ``draw`` (default ``dpo.draw``): draw 0 keeps the
    seed runs had before ``dpo.draw`` existed, every other draw gets its own stream."""
    draw = cfg.dpo.draw if draw is None else draw
    if draw:
        return derive_seed(cfg.seed, iteration, 3, draw)
    return derive_seed(cfg.seed, iteration, 3)


def dpo_draws(cfg: TrainConfig, iteration: int) -> list[tuple[int, str]]:
    """(draw, judge name) of every DPO draw of ``iteration``: ``dpo.draw`` keeps the names a
    single-draw run has (``iter<t>``: stage ``iter<t>/dpo``); each further draw d of
    ``validation.draws`` is ``iter<t>/dpo-draw<d>`` (its model and validation live in that folder)."""
    first = cfg.dpo.draw
    return [(first, f"iter{iteration}")] + [
        (d, f"iter{iteration}/dpo-draw{d}") for d in range(first + 1, first + cfg.validation.draws)
    ]


def dpo_stage(judge: str) -> str:
    """The DPO stage (and folder) that trains the judge named by :func:`dpo_draws`."""
    return judge if "/" in judge else f"{judge}/dpo"


def validation_size(cfg: TrainConfig) -> int:
    """The validation gate's split size: 0 (no gate) when there is no iteration to gate."""
    return cfg.validation.size if iteration_counts(cfg) else 0


def planned_stages(cfg: TrainConfig) -> list[str]:
    """The stages a run of ``cfg`` goes through, in order (what ``--stop-after`` may name)."""
    seed = "sft" if cfg.sft.enabled else "base"
    stages = ["sft"] if cfg.sft.enabled else []
    evaluate = cfg.evaluation.enabled
    stages += [f"{seed}/eval"] if evaluate else []
    n_iter = len(iteration_counts(cfg))
    gate = validation_size(cfg) > 0
    stages += [f"{seed}/validation"] if gate else []
    for t in range(1, n_iter + 1):
        stages.append(f"iter{t}/sampling")
        if cfg.method == "rejection-sampling":
            stages.append(f"iter{t}/rs_sft")
        else:
            if t == 1 and "rejection-sampling" in cfg.baselines:
                stages += ["rs_sft"] + (["rs_sft/eval"] if evaluate else [])
            if cfg.curation.strategy == "meta-judge":
                stages.append(f"iter{t}/meta_judge")
            stages += [f"iter{t}/curation"] + [dpo_stage(name) for _, name in dpo_draws(cfg, t)]
        # one judge per draw to validate; rejection-sampling has one (its config refuses draws > 1)
        stages += [f"{name}/validation" for _, name in dpo_draws(cfg, t)] if gate else []
        stages += [f"iter{t}/eval"] if evaluate else []
    return stages


def check_stop_after(stop_after: str | None, cfg: TrainConfig) -> None:
    if stop_after is None:
        return
    stages = planned_stages(cfg)
    if stop_after not in stages:
        raise ConfigError(f"--stop-after {stop_after!r}: not a stage of this run; its stages are {', '.join(stages)}")


class Pipeline:
    def __init__(self, cfg: TrainConfig, stop_after: str | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        check_stop_after(stop_after, cfg)
        self.stop_after = stop_after
        init_distributed(cfg)
        # Only the main process writes run files; the others open the manifest it wrote.
        if _is_main():
            self.manifest = Manifest.open(self.out, cfg)
        _barrier()
        if not _is_main():
            self.manifest = Manifest.open(self.out, cfg)
        pending = [s for s in planned_stages(cfg) if s.endswith("/sampling") and self.manifest.done(s) is None]
        check_sampling_launch(cfg, pending, stop_after)
        self.curve: list[dict[str, Any]] = []
        self.judges: dict[str, str] = {}  # stage name -> model folder of every judge trained
        self.gate_log: list[dict[str, Any]] = []  # the validation gate's decisions, in order

    def stage(self, name: str, fn: Callable[[], dict[str, Any]], *, all_ranks: bool = False) -> dict[str, Any]:
        """Run a stage once. Under ``accelerate launch`` training stages and self-sampling run on
        every rank (DDP; sampling sharded by batch, see ``sampling.sample_units``); curation and
        evaluation run on the main process while the rest wait. Only the main process records the
        stage in the manifest."""
        done = self.manifest.done(name)
        if done is not None:
            log.info("stage %s: already done, skipping", name)
            self._maybe_stop(name)
            return done
        t0 = time.time()
        main = _is_main()
        info = fn() if (all_ranks or main) else None
        if main and info is not None:
            self.manifest.finish(name, seconds=round(time.time() - t0, 2), **info)
        _barrier()
        if not main:
            self.manifest = Manifest(self.manifest.path, json.loads(self.manifest.path.read_text(encoding="utf-8")))
        free_accelerator_memory()
        self._maybe_stop(name)
        return self.manifest.done(name) or {}

    def _maybe_stop(self, name: str) -> None:
        if name == self.stop_after:
            raise StopAfter(name)

    # ---- data ------------------------------------------------------------------------------

    def load_data(self) -> None:
        cfg = self.cfg
        pool, dropped = load_pool(cfg.data)
        counts = iteration_counts(cfg)
        if cfg.data.heldout_source:
            self.train, self.heldout, n_overlap = load_heldout(cfg.data, pool)
            dropped["heldout_overlap"] = n_overlap
        else:
            check_pool_size(len(pool), cfg.data, counts, dropped)  # before any model loads
            self.train, self.heldout = split_heldout(pool, cfg.data.heldout_size, cfg.seed)
        self.sft_items, self.iter_pool = sft_and_iteration_pool(self.train, cfg.data.sft_size, cfg.seed)
        self.slices = iteration_slices(len(self.iter_pool), counts, cfg.seed, allow_reuse=cfg.data.allow_reuse)
        used = [self.iter_pool[i] for s in self.slices for i in s] + (self.sft_items if cfg.sft.enabled else [])
        self.validation = validation_split(self.train, used, validation_size(cfg), cfg.seed)
        splits = {
            "source": cfg.data.source,
            "heldout_source": cfg.data.heldout_source,
            "dropped": dropped,
            "n_pool": len(pool),
            "heldout_ids": [it.id for it in self.heldout],
            "sft_ids": [it.id for it in self.sft_items],
            "iteration_ids": [[self.iter_pool[i].id for i in s] for s in self.slices],
        }
        if self.validation:  # only then: runs without a gate keep their splits.json
            splits["validation_ids"] = [it.id for it in self.validation]
        path = self.out / "data" / "splits.json"
        if _is_main() and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(splits), encoding="utf-8")
            tmp.replace(path)  # atomic: a killed run or another rank never reads half a file
        _barrier()  # other ranks compare only once the main process has written it
        if json.loads(path.read_text(encoding="utf-8")) != splits:
            raise ConfigError(f"{path}: the data changed since this run started; use a new output_dir")
        # The held-out split, written once, is what every judge is evaluated on (feedback_bench).
        self.heldout_path = self.out / "data" / "heldout.jsonl"
        if self.heldout and not self.heldout_path.exists() and _is_main():
            write_jsonl(self.heldout_path, (feedback_row(it) for it in self.heldout))
        self.validation_path = self.out / "data" / "validation.jsonl"
        if self.validation and not self.validation_path.exists() and _is_main():
            write_jsonl(self.validation_path, (feedback_row(it) for it in self.validation))
        _barrier()
        log.info("data: %d training items (%d for SFT, %d for validation), %d held out, dropped %s",
                 len(self.train), len(self.sft_items), len(self.validation), len(self.heldout), dropped)

    # ---- stages ------------------------------------------------------------------------------

    def evaluate(self, name: str, ref: ModelRef, out_dir: Path) -> None:
        """Every evaluation strategy on the held-out split, through the runner (cached)."""
        e = self.cfg.evaluation
        if not e.enabled or not self.heldout:
            return
        from .evaluate import evaluate_judge, strategy_configs

        strategies = strategy_configs(e)
        info = self.stage(
            f"{name}/eval",
            lambda: {"runs": evaluate_judge(self.cfg, ref, self.heldout_path, out_dir, strategies)},
        )
        for slug, run in info.get("runs", {}).items():
            self.curve.append({"judge": name, "model": ref.path, "slug": slug, **run})

    def seed_judge(self) -> ModelRef:
        cfg = self.cfg
        base = ModelRef.from_config(cfg.model)
        if not cfg.sft.enabled:
            self.judges["base"] = base.path
            self.evaluate("base", base, self.out / "base" / "eval")
            return base
        from .sft import load_pairwise_items, pairwise_examples, pointwise_examples, train_sft

        sft_dir = self.out / "sft"

        def run_sft() -> dict[str, Any]:
            rows = pointwise_examples(self.sft_items, cfg.data.use_reference_answer)
            model_dir = train_sft(rows, base, sft_dir / "pointwise", cfg)
            info: dict[str, Any] = {"model": str(model_dir), "n_examples": len(rows)}
            pw = cfg.sft.pairwise
            if pw.enabled:
                from .modeling import linear_merge

                prow = pairwise_examples(load_pairwise_items(cfg))
                pdir = train_sft(prow, base, sft_dir / "pairwise", cfg, fault_stage="sft_pairwise")
                merged = sft_dir / "merged"
                if _is_main():  # every rank trained both models; one merges and writes
                    linear_merge([model_dir, pdir], [1 - pw.merge_weight, pw.merge_weight], merged, cfg)
                _barrier()
                info.update(model=str(merged), pairwise_model=str(pdir), n_pairwise_examples=len(prow))
            return info

        info = self.stage("sft", run_sft, all_ranks=True)
        ref = ModelRef(info["model"])
        self.judges["sft"] = ref.path
        self.evaluate("sft", ref, sft_dir / "eval")
        return ref

    def validate(self, name: str, judge: ModelRef) -> dict[str, Any]:
        """Greedy ``feedback_bench`` on the validation split (stage ``<name>/validation``)."""
        from ..protocols import StrategyConfig
        from .evaluate import evaluate_judge

        def run() -> dict[str, Any]:
            runs = evaluate_judge(self.cfg, judge, self.validation_path, self.out / name / "validation",
                                  [StrategyConfig(name="greedy")])
            greedy = runs["greedy"]
            return {k: greedy.get(k) for k in ("pearson", "parse_rate", "n", "n_failed", "results")}

        return self.stage(f"{name}/validation", run)

    def gate(self, t: int, incumbent: ModelRef, candidates: list[tuple[str, ModelRef]]) -> ModelRef:
        """Iteration t's judge: the candidate (name, model) with the best validation Pearson (the
        first on a tie) if it reaches the incumbent's plus ``validation.min_gain``, else the
        incumbent. Without a validation split there is one candidate, and it is kept. Without
        candidates (the iteration had nothing to train on, its training stage recorded as skipped)
        the incumbent stays, and the gate logs the skip."""
        if not self.validation:
            return candidates[0][1] if candidates else incumbent
        if not self.gate_log:
            raise RuntimeError("the seed judge's validation stage has not run")
        held = self.gate_log[-1]
        if not candidates:
            self.gate_log.append({"candidate": f"iter{t}", "candidate_pearson": None, "incumbent": held["judge"],
                                  "incumbent_pearson": held["pearson"], "kept": False, "judge": held["judge"],
                                  "pearson": held["pearson"], "model": incumbent.path, "skipped": "nothing to train on"})
            return incumbent
        scored = [(name, ref, self.validate(name, ref).get("pearson")) for name, ref in candidates]
        name, candidate, new = max(scored, key=lambda c: _rank(c[2]))  # max keeps the first of equals
        old = held["pearson"]
        kept = gate_keeps(new, old, self.cfg.validation.min_gain)
        judge = candidate if kept else incumbent
        winner = name if kept else held["judge"]
        entry = {"candidate": name, "candidate_pearson": new, "incumbent": held["judge"],
                 "incumbent_pearson": old, "kept": kept, "judge": winner,
                 "pearson": new if kept else old, "model": judge.path}
        if len(scored) > 1:
            entry["draws"] = [{"candidate": n, "pearson": p, "model": r.path} for n, r, p in scored]
        self.gate_log.append(entry)
        log.info("iteration %d: validation Pearson %s of %s (best of %d) vs %s of %s -> %s", t, new, name,
                 len(scored), old, held["judge"], "kept" if kept else f"rejected, continuing from {held['judge']}")
        return judge

    def _backend(self, judge: ModelRef) -> LazyBackend:
        return LazyBackend(lambda: make_backend(judge.path, self.cfg, gguf_file=judge.gguf_file))

    def sample(self, t: int, judge: ModelRef, items: list[PointwiseItem]) -> list[dict[str, Any]]:
        """N judgments per input (+ re-sampling rounds); the merged records of every round."""
        cfg = self.cfg
        it_dir = self.out / f"iter{t}"
        units = [
            Unit(
                key=str(it.id),
                prompt=judge_messages(it, cfg.data.use_reference_answer),
                extra={"gold": it.gold_score, "prompt": judge_messages(it, cfg.data.use_reference_answer)},
                scale=it.rubric.scale,
            )
            for it in items
        ]

        def run() -> dict[str, Any]:
            backend = self._backend(judge)
            try:
                return sample_with_budget(
                    units,
                    backend,
                    it_dir,
                    n=cfg.sampling.n,
                    sampling=sampling_config(cfg.sampling),
                    seed=derive_seed(cfg.seed, t),
                    batch_size=cfg.sampling.batch_size,
                    curation=cfg.curation,
                    budget=cfg.sampling.resample_budget,
                    resample_n=cfg.sampling.resample_n,
                    desc=f"iter{t} sampling",
                    shard=True,
                )
            finally:
                backend.release()

        # every rank samples its shard of the batches; rank 0 writes the files
        self.stage(f"iter{t}/sampling", run, all_ranks=True)
        return merged_records(it_dir)

    def curate(
        self, t: int, judge: ModelRef, records: list[dict[str, Any]], items: list[PointwiseItem]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        cfg = self.cfg
        # reference rationales, for contrast functions that compare against them (old samples too)
        references = {str(it.id): _reference_rationale(it) for it in items}
        it_dir = self.out / f"iter{t}"
        meta = None
        if cfg.curation.strategy == "meta-judge":
            from .meta_judge import meta_units, read_ratings

            def run_meta() -> dict[str, Any]:
                backend = self._backend(judge)
                try:
                    path = sample_units(
                        meta_units(records, cfg.curation.meta_judge_rubric),
                        backend,
                        it_dir / "meta_ratings.jsonl",
                        n=cfg.curation.meta_judge_n,
                        sampling=sampling_config(cfg.sampling),
                        seed=derive_seed(cfg.seed, t, 1),
                        batch_size=cfg.sampling.batch_size,
                        desc=f"iter{t} meta-judge",
                        fault_stage="meta",
                        shard=True,
                    )
                finally:
                    backend.release()
                return {"ratings": str(path)}

            self.stage(f"iter{t}/meta_judge", run_meta, all_ranks=True)
            meta = read_ratings(it_dir / "meta_ratings.jsonl")

        def run() -> dict[str, Any]:
            pairs, stats = curate(records, cfg.curation, seed=derive_seed(cfg.seed, t, 2), meta_ratings=meta,
                                  references=references)
            train, held = split_pairs_by_input(pairs, cfg.dpo.heldout_pairs)
            write_jsonl(it_dir / "pairs.jsonl", train)
            write_jsonl(it_dir / "heldout_pairs.jsonl", held)
            (it_dir / "curation.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
            return {"pairs": str(it_dir / "pairs.jsonl"), "n_pairs": len(train), "n_heldout_pairs": len(held), "stats": stats}

        self.stage(f"iter{t}/curation", run)
        return list(read_jsonl(it_dir / "pairs.jsonl")), list(read_jsonl(it_dir / "heldout_pairs.jsonl"))

    def dpo(
        self, t: int, judge: ModelRef, pairs: list[dict[str, Any]], heldout: list[dict[str, Any]], draw: int, stage: str
    ) -> ModelRef:
        """One DPO draw of iteration t, in stage (and folder) ``stage`` (:func:`dpo_stage`)."""
        from .dpo import train_dpo

        cfg = self.cfg
        dpo_dir = self.out / stage

        def run() -> dict[str, Any]:
            if not pairs:
                raise RuntimeError(
                    f"iteration {t}: curation produced no preference pairs (see {dpo_dir.parent / 'curation.json'}); "
                    "raise sampling.n, lower curation.min_gap, or check the parse rate of the samples"
                )
            model_dir = train_dpo(pairs, judge, dpo_dir, cfg, seed=dpo_seed(cfg, t, draw))
            info: dict[str, Any] = {"model": str(model_dir), "reference": judge.path, "draw": draw}
            if heldout and _is_main():
                info["heldout_margin"] = _margins(judge, ModelRef(str(model_dir)), heldout, cfg)
            return info

        info = self.stage(stage, run, all_ranks=True)
        return ModelRef(info["model"])

    def rejection_sft(self, t: int, judge: ModelRef, records: list[dict[str, Any]], stage: str, out_dir: Path) -> ModelRef:
        """Rejection-sampling SFT of ``judge`` on its own samples that hit the gold score
        (label-balanced like the pairs)."""
        from .baselines import rs_sft_examples
        from .sft import train_sft

        cfg = self.cfg

        def run() -> dict[str, Any]:
            rows, stats = rs_sft_examples(cfg, records, t)
            if not rows:
                return self._untrained(t, judge, stats, "no sampled judgment matched the gold score; nothing to SFT on")
            model_dir = train_sft(rows, judge, out_dir, cfg, cfg.rs_sft, seed=derive_seed(cfg.seed, t, 3), fault_stage="rs_sft")
            return {"model": str(model_dir), **stats}

        info = self.stage(stage, run, all_ranks=True)
        return judge if info.get("skipped") else ModelRef(info["model"])

    def _untrained(self, t: int, judge: ModelRef, stats: dict[str, Any], reason: str) -> dict[str, Any]:
        """A training stage with nothing to train on: recorded as skipped (with why and the counts
        that led there), its judge the one it would have trained from, so that a run whose samples
        gave no pairs still finishes and says so instead of crashing after its sampling."""
        log.warning("iteration %d: %s; the judge stays %s (raise sampling.n or the re-sampling budget, lower "
                    "curation.min_gap, or check the samples' parse rate)", t, reason, judge.path)
        return {"model": judge.path, "skipped": reason, **stats}

    def skip_dpo(self, t: int, judge: ModelRef) -> None:
        """Iteration t's DPO when curation gave no preference pairs: stage ``iter<t>/dpo`` recorded
        as skipped, no draw trained."""
        curation = self.out / f"iter{t}" / "curation.json"
        self.stage(f"iter{t}/dpo", lambda: self._untrained(
            t, judge, {"n_pairs": 0}, f"curation produced no preference pairs (see {curation})"), all_ranks=True)

    # ---- driver ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.time()
        self.load_data()
        judge = self.seed_judge()
        seed = judge
        if self.validation:
            seed_name = "sft" if cfg.sft.enabled else "base"
            info = self.validate(seed_name, seed)
            self.gate_log.append({"judge": seed_name, "pearson": info.get("pearson"), "model": seed.path})
        for t, idx in enumerate(self.slices, start=1):
            items = [self.iter_pool[i] for i in idx]
            records = self.sample(t, judge, items)
            if cfg.method == "rejection-sampling":
                rs = self.rejection_sft(t, judge, records, f"iter{t}/rs_sft", self.out / f"iter{t}" / "rs_sft")
                trained = [] if rs is judge else [(f"iter{t}", rs)]  # a skipped RS-SFT returns its starting judge
            else:
                if t == 1 and "rejection-sampling" in cfg.baselines:
                    # the baseline sees exactly the inputs and samples SRE iteration 1 uses
                    rs = self.rejection_sft(1, seed, records, "rs_sft", self.out / "rs_sft")
                    self.judges["rs_sft"] = rs.path
                    self.evaluate("rs_sft", rs, self.out / "rs_sft" / "eval")
                pairs, held = self.curate(t, judge, records, items)
                if not pairs:
                    self.skip_dpo(t, judge)
                trained = [(name, self.dpo(t, judge, pairs, held, draw, dpo_stage(name)))
                           for draw, name in dpo_draws(cfg, t)] if pairs else []
            judge = self.gate(t, judge, trained)
            self.judges[f"iter{t}"] = judge.path
            self.evaluate(f"iter{t}", judge, self.out / f"iter{t}" / "eval")
        summary = {
            "method": cfg.method,
            "final_model": judge.path,
            "judges": self.judges,
            "curve": self.curve,
            "validation_gate": self.gate_log,
            "seconds_this_run": round(time.time() - t0, 1),
        }
        if not _is_main():
            return summary
        (self.out / "curve.json").write_text(json.dumps(summary, indent=1, default=float), encoding="utf-8")
        (self.out / "report.md").write_text(render_report(summary, self.manifest.data), encoding="utf-8")
        return summary


def _reference_rationale(item: PointwiseItem) -> str | None:
    """The item's reference feedback (Feedback-Collection ``orig_feedback``), when it has one."""
    feedback = item.metadata.get("feedback")
    return str(feedback) if feedback else None


def _rank(pearson: float | None) -> float:
    """A validation Pearson as the gate ranks it: undefined (a constant judge, or nothing parsed)
    counts as 0, since it ranks nothing, so it neither beats a judge with signal nor is beaten by one
    below 0."""
    return 0.0 if pearson is None or pearson != pearson else pearson


def gate_keeps(candidate: float | None, incumbent: float | None, min_gain: float) -> bool:
    """The validation gate's rule, on Pearsons ranked as :func:`_rank` does."""
    return _rank(candidate) >= _rank(incumbent) + min_gain


def split_pairs_by_input(pairs: list[dict[str, Any]], k: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out whole inputs (never half of an input's pairs) until at least ``k`` pairs are held
    out, keeping at least one input for training."""
    if k <= 0:
        return pairs, []
    keys: list[str] = []
    for p in pairs:
        if p["key"] not in keys:
            keys.append(p["key"])
    held_keys: set[str] = set()
    n = 0
    for key in keys[:-1]:
        if n >= k:
            break
        held_keys.add(key)
        n += sum(p["key"] == key for p in pairs)
    return [p for p in pairs if p["key"] not in held_keys], [p for p in pairs if p["key"] in held_keys]


def _margins(before: ModelRef, after: ModelRef, pairs: list[dict[str, Any]], cfg: TrainConfig) -> dict[str, float]:
    from .dpo import pair_margins
    from .modeling import load_model, load_tokenizer

    out = {}
    for name, ref in (("before", before), ("after", after)):
        model = load_model(ref, cfg, for_training=False)
        m = pair_margins(model, load_tokenizer(ref, cfg), pairs)
        out[name] = sum(m) / len(m)
        del model
    out["n_pairs"] = len(pairs)
    return out


def _f(x: Any) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def render_report(summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    """``report.md``: held-out metrics of every judge and strategy (the protocol's names), what
    curation kept per iteration, and stage timings."""
    lines = [f"# selfrat train: {summary['method']}", "", f"Final judge: `{summary['final_model']}`", ""]
    if summary["curve"]:
        lines += [
            "Held-out split: `data/heldout.jsonl`, `feedback_bench` protocol through the runner "
            "(`<judge>/eval/<strategy>/results.json`).",
            "",
            "| judge | strategy | pearson [95% CI] | spearman | kendall | accuracy | mae | parse_rate | n |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in summary["curve"]:
            ci = row.get("pearson_ci") or [None, None]
            n = row.get("n")
            lines.append(
                f"| {row['judge']} | {row['strategy']} | {_f(row.get('pearson'))} [{_f(ci[0])}, {_f(ci[1])}] | "
                f"{_f(row.get('spearman'))} | {_f(row.get('kendall'))} | {_f(row.get('accuracy'))} | "
                f"{_f(row.get('mae'))} | {_f(row.get('parse_rate'))} | {'n/a' if n is None else int(n)} |"
            )
    stages = manifest["stages"]
    iters = sorted({k.split("/")[0] for k in stages if k.startswith("iter") and k.endswith("/curation")})
    if iters:
        lines += [
            "",
            "## Curation",
            "",
            "| iteration | inputs | samples | parse rate | re-sampled inputs (extra samples) | rescued | "
            "pairs before balance | pairs after | by label (before -> after) | inputs without pairs |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for it in iters:
            smp, cur = stages.get(f"{it}/sampling", {}), stages[f"{it}/curation"].get("stats", {})
            before, after = cur.get("pairs_by_label_before_balance", {}), cur.get("pairs_by_label", {})
            by_label = ", ".join(f"{k}: {before.get(k, 0)}->{after.get(k, 0)}" for k in sorted(set(before) | set(after)))
            lines.append(
                f"| {it} | {cur.get('n_inputs')} | {cur.get('n_samples')} | {_f(cur.get('parse_rate'))} | "
                f"{smp.get('n_inputs_resampled', 0)} ({smp.get('n_extra_samples', 0)}) | {smp.get('n_inputs_rescued', 0)} | "
                f"{cur.get('n_pairs_before_balance')} | {cur.get('n_pairs')} | {by_label} | "
                f"{cur.get('n_inputs_without_pairs')} {cur.get('inputs_without_pairs', {})} |"
            )
    gate = summary.get("validation_gate") or []
    if gate:
        lines += [
            "",
            "## Validation gate",
            "",
            f"Seed judge `{gate[0]['judge']}`: validation Pearson {_f(gate[0]['pearson'])} "
            "(greedy, `<judge>/validation/greedy/results.json`).",
            "",
            "| iteration | trained judge's Pearson | incumbent (Pearson) | decision | iteration's judge |",
            "|---|---|---|---|---|",
        ]
        for g in gate[1:]:
            draws = g.get("draws")
            best_of = f" (best of {len(draws)} DPO draws: " + ", ".join(
                f"`{d['candidate']}` {_f(d['pearson'])}" for d in draws) + ")" if draws else ""
            decision = f"skipped: {g['skipped']}" if g.get("skipped") else "kept" if g["kept"] else "rejected"
            lines.append(
                f"| {g['candidate']} | {_f(g['candidate_pearson'])}{best_of} | {g['incumbent']} "
                f"({_f(g['incumbent_pearson'])}) | {decision} | {g['judge']} |"
            )
    lines += ["", "## Stages", ""]
    for name, info in stages.items():
        extra = ""
        if "n_pairs" in info:
            extra = f" — {info['n_pairs']} pairs"
        if "n_examples_before_balance" in info:
            extra = f" — {info['n_examples']} SFT examples ({info['n_examples_before_balance']} before label balancing)"
        elif "n_examples" in info:
            extra = f" — {info['n_examples']} SFT examples"
        if "heldout_margin" in info:
            hm = info["heldout_margin"]
            extra += f" — held-out margin {hm['before']:.3f} -> {hm['after']:.3f}"
        if info.get("skipped"):
            extra += f" — **skipped**: {info['skipped']} (the judge stays `{info['model']}`)"
        lines.append(f"- `{name}`: {info.get('seconds', '?')} s{extra}")
    return "\n".join(lines) + "\n"


def run_pipeline(cfg: TrainConfig, stop_after: str | None = None) -> dict[str, Any]:
    """Run (or resume) a training run; with ``stop_after`` stop once that stage is done, so that
    stages can be run by different launchers on one output_dir (e.g. vLLM sampling in one process,
    DPO under ``accelerate launch``)."""
    pipeline = Pipeline(cfg, stop_after)
    try:
        return pipeline.run()
    except StopAfter as stop:
        return {"method": cfg.method, "stopped_after": str(stop), "stages_done": sorted(pipeline.manifest.data["stages"])}
