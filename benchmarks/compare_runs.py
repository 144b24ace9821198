"""Judge the judges of finished training runs with a demo preset's comparison rows (SFT seed, SC@N,
BoN@N, RS-SFT, SRE iterations; greedy and expected-score), into a seed folder that
``bench_sre_effect.py --no-run`` measures like a finished demo seed.

This is how a comparison is assembled from runs that were not one demo: a recorded run, its RS-SFT
fork (``fork_run.py`` + ``--stop-after rs_sft/eval``) and its continuation by further iterations
(``continue_run.py``, given as ``RUN@OFFSET``: its ``iter<t>`` is the comparison's
``iter<t+OFFSET>``). Every run must hold the same held-out file; the evaluation settings and cache are
the first run's, so judgments the runs already made are read from the cache, not generated again.

    python benchmarks/compare_runs.py --out runs/sre-fullbatch-cmp/seed0 --preset smollm2-effect \
        --run runs/sre-fullbatch/seed0 --run runs/sre-fullbatch-rs/seed0 --run runs/sre-fullbatch-it2/seed0@1
    python benchmarks/bench_sre_effect.py --seed-list 0 1 --no-run --out runs/sre-fullbatch-cmp

Judges: ``sft`` (or a given seed judge's ``base``) and ``rs_sft`` from a run's manifest, iteration
judges (the gate-kept ones) from its ``curve.json``. A preset row whose judge no run has is left out
and named in ``demo_manifest.json`` (``rows_left_out``); the target row must be there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

ITERATION = re.compile(r"^iter(\d+)(/.*)?$")


def parse_run(spec: str) -> tuple[Path, int]:
    """``RUN`` or ``RUN@OFFSET`` (the run's iteration t is the comparison's t + OFFSET)."""
    path, _, offset = spec.rpartition("@") if "@" in spec else (spec, "", "0")
    if not offset.isdigit():
        raise SystemExit(f"--run {spec!r}: the offset after '@' must be a non-negative integer")
    return Path(path), int(offset)


def _shift(name: str, offset: int) -> str | None:
    """``iter<t>...`` renamed to ``iter<t+offset>...``; other names only where offset is 0."""
    m = ITERATION.match(name)
    if m:
        return f"iter{int(m.group(1)) + offset}{m.group(2) or ''}"
    return name if offset == 0 else None


def run_judges(run: Path, offset: int = 0) -> dict[str, str]:
    """The judges a run trained: ``sft``/``rs_sft`` from its manifest (a given seed judge, stage
    ``base``, stands for ``sft``), the gate-kept iteration judges from its ``curve.json``."""
    stages = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]
    curve_path = run / "curve.json"  # written when the run finishes; a run stopped early has none
    trained = json.loads(curve_path.read_text(encoding="utf-8"))["judges"] if curve_path.is_file() else {}
    judges: dict[str, str] = {}
    if offset == 0:
        for stage in ("sft", "rs_sft"):
            if stages.get(stage, {}).get("status") == "done":
                judges[stage] = stages[stage]["model"]
        if "sft" not in judges and "base" in trained:
            judges["sft"] = trained["base"]
    for name, model in trained.items():
        if ITERATION.match(name):
            judges[_shift(name, offset)] = model  # type: ignore[index]  # an iteration name always shifts
    return judges


def run_stages(run: Path, offset: int = 0) -> dict[str, Any]:
    """The run's manifest stages under the comparison's iteration numbers (bench_sre_effect reads
    the sampling and curation counts from them)."""
    stages = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["stages"]
    shifted = {_shift(k, offset): v for k, v in stages.items()}
    return {k: v for k, v in shifted.items() if k is not None}


def merge(named: list[tuple[Path, dict[str, Any]]], what: str) -> dict[str, Any]:
    """One mapping from several runs'; the same name with two different values is an error."""
    out: dict[str, Any] = {}
    for run, mapping in named:
        for k, v in mapping.items():
            if k in out and out[k] != v:
                raise SystemExit(f"{what} {k!r}: {run} has {v!r}, an earlier run {out[k]!r}")
            out[k] = v
    return out


def check_same_heldout(runs: list[Path]) -> Path:
    """The runs' shared held-out file (a comparison is paired over its items)."""
    first = runs[0] / "data" / "heldout.jsonl"
    content = first.read_bytes()
    for run in runs[1:]:
        if (run / "data" / "heldout.jsonl").read_bytes() != content:
            raise SystemExit(f"{run}/data/heldout.jsonl differs from {first}: the runs are not judged on the same items")
    return first


def compare_rows(preset: Any, judges: dict[str, str], greedy_only: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """The preset's rows whose judge some run has (without the expected-score variant when
    ``greedy_only``), and the names of the rows left out."""
    rows, left_out = [], []
    for row in preset.rows:
        if row["judge"] not in judges:
            left_out.append(row["name"])
            continue
        rows.append({k: v for k, v in row.items() if not (greedy_only and k == "expected")})
    if preset.target in left_out:
        raise SystemExit(f"the target row {preset.target!r} needs judge "
                         f"{next(r['judge'] for r in preset.rows if r['name'] == preset.target)!r}; the runs have {sorted(judges)}")
    return rows, left_out


def compare(out: Path, preset_name: str, specs: list[str], *, greedy_only: bool = False,
            overrides: list[str] | None = None) -> dict[str, Any]:
    """Judge every row into ``out`` and write the seed folder's files; its ``demo_manifest.json``."""
    from selfrat_eval.demo.pipeline import evaluate_rows, load_preset
    from selfrat_eval.training.config import TrainConfig

    runs = [parse_run(s) for s in specs]
    paths = [p for p, _ in runs]
    heldout = check_same_heldout(paths)
    judges = merge([(p, run_judges(p, o)) for p, o in runs], "judge")
    stages = merge([(p, run_stages(p, o)) for p, o in runs], "stage")
    preset = load_preset(preset_name, overrides or [])
    rows, left_out = compare_rows(preset, judges, greedy_only)
    raw = {**preset.raw, "compare": {**preset.raw.get("compare", {}), "rows": rows}}
    preset = dataclasses.replace(preset, rows=rows, raw=raw)
    cfg = TrainConfig.load(paths[0] / "config.yaml")

    t0 = time.time()
    (out / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(heldout, out / "data" / "heldout.jsonl")
    (out / "demo_preset.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps({"stages": stages, "assembled_from": specs}, indent=1), encoding="utf-8")
    resolved = evaluate_rows(preset, cfg, judges, out)
    manifest = {
        "preset": preset.name,
        "assembled_from": specs,
        "wall_time_s": round(time.time() - t0, 1),
        "peak_rss_mb": None,
        "judges": judges,
        "seed_judge": None,
        "rows": resolved,
        "rows_left_out": left_out,
    }
    (out / "demo_manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="the seed folder to write (e.g. runs/cmp/seed0)")
    ap.add_argument("--preset", default="smollm2-effect", help="whose comparison rows to judge")
    ap.add_argument("--run", dest="runs", action="append", required=True, metavar="RUN[@OFFSET]",
                    help="a training run; @OFFSET renumbers its iterations (a continuation)")
    ap.add_argument("--greedy-only", action="store_true", help="leave out the expected-score variants")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="preset override")
    args = ap.parse_args(argv)
    manifest = compare(args.out, args.preset, args.runs, greedy_only=args.greedy_only, overrides=args.overrides)
    print(f"{args.out}: {[r['name'] for r in manifest['rows']]} judged in {manifest['wall_time_s']} s"
          + (f"; left out {manifest['rows_left_out']}" if manifest["rows_left_out"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
