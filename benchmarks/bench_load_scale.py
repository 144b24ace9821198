"""Feedback-Collection loading at scale: wall time and peak RSS of ``load_feedback_collection``.

    python benchmarks/bench_load_scale.py [--rows 100000] [--limit 400] [--workdir DIR] [--out results.json]

Writes a ``--rows`` JSON-lines file in the Feedback-Collection layout (realistic field sizes,
about 2 KB per row) plus a 1% Feedback Bench file for decontamination, under ``--workdir`` (a
temporary directory by default, removed afterwards; never the repository). Each measurement runs
in a fresh Python process, which reports its own wall time and peak RSS (``ru_maxrss``):

- ``limit=N cold``: the first load, which also converts the file to a cached Arrow table;
- ``limit=N warm`` and ``limit=N shuffled warm``: later loads, memory-mapping the cached table;
- ``all rows warm``: every row validated and turned into an item.

The datasets cache goes to ``<workdir>/hf-cache`` so that runs do not touch ``~/.cache``.
Target (issue 12): ``limit=400`` under 10 s and under 1 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 10.0
TARGET_RSS_MB = 1024.0
WORDS = (
    "the response explains clearly and accurately why the approach works but misses a key detail about "
    "edge cases memory usage and the trade offs a careful reader would expect in a complete answer"
).split()


def _text(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        w = rng.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)


def make_row(i: int, rng: random.Random) -> dict[str, Any]:
    score = 1 + i % 5
    feedback = _text(rng, 220)
    return {
        "orig_instruction": f"Case {i}: " + _text(rng, 260),
        "orig_response": _text(rng, 480),
        "orig_reference_answer": _text(rng, 300),
        "orig_criteria": _text(rng, 90) + "?",
        **{f"orig_score{k}_description": _text(rng, 70) for k in range(1, 6)},
        "orig_score": str(score),
        "orig_feedback": feedback,
        "instruction": "###Task Description: ... ###Feedback: ",  # the rendered prompt, abridged
        "output": f"{feedback} [RESULT] {score}",
    }


def write_data(workdir: Path, n_rows: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    collection = workdir / "feedback_collection.jsonl"
    bench_rows = []
    with collection.open("w", encoding="utf-8") as fh:
        for i in range(n_rows):
            row = make_row(i, rng)
            if i % 100 == 7:  # Feedback Bench is a 1% split of the collection
                bench_rows.append(row)
            fh.write(json.dumps(row) + "\n")
    bench = workdir / "feedback_bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in bench_rows), encoding="utf-8")
    return collection, bench


def child(args: argparse.Namespace) -> None:
    """One measurement, in this fresh process: prints a JSON line."""
    import resource

    t0 = time.perf_counter()
    from selfrat_eval.loaders import load_feedback_collection

    t1 = time.perf_counter()
    loaded = load_feedback_collection(
        args.source,
        decontaminate_against=args.bench,
        limit=args.limit if args.limit >= 0 else None,
        shuffle=args.shuffle,
        seed=0,
    )
    t2 = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({
        "items": len(loaded),
        "dropped": loaded.dropped,
        "import_s": round(t1 - t0, 3),
        "load_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        "peak_rss_mb": round(rss_mb, 1),
    }))


def measure(name: str, source: Path, bench: Path, limit: int | None, shuffle: bool, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--source", str(source), "--bench", str(bench),
           "--limit", str(-1 if limit is None else limit)] + (["--shuffle"] if shuffle else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name}: measurement failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"name": name, "limit": limit, "shuffle": shuffle, "process_wall_s": round(wall, 3), **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="where the data and the datasets cache go (kept)")
    ap.add_argument("--out", default=None, help="write the result JSON here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--bench", help=argparse.SUPPRESS)
    ap.add_argument("--shuffle", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="selfrat-load-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        source, bench = write_data(workdir, args.rows, args.seed)
        gen_s = time.perf_counter() - t0
        file_mb = round(source.stat().st_size / 2**20, 1)
        cache = workdir / "hf-cache"
        shutil.rmtree(cache, ignore_errors=True)  # the first measurement is cold
        env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
        runs = [
            measure(f"limit={args.limit} cold", source, bench, args.limit, False, env),
            measure(f"limit={args.limit} warm", source, bench, args.limit, False, env),
            measure(f"limit={args.limit} shuffled warm", source, bench, args.limit, True, env),
            measure("all rows warm", source, bench, None, False, env),
        ]
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    limited = [r for r in runs if r["limit"] is not None]
    result = {
        "rows": args.rows,
        "file_mb": file_mb,
        "generate_s": round(gen_s, 2),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "target": {"limit": args.limit, "max_s": TARGET_S, "max_rss_mb": TARGET_RSS_MB},
        "meets_target": all(r["process_wall_s"] < TARGET_S and r["peak_rss_mb"] < TARGET_RSS_MB for r in limited),
    }
    print(f"{args.rows} rows, {gen_s:.1f} s to generate")
    print(f"{'run':<28}{'items':>8}{'load s':>9}{'process s':>11}{'peak RSS MB':>13}  dropped")
    for r in runs:
        print(f"{r['name']:<28}{r['items']:>8}{r['load_s']:>9.2f}{r['process_wall_s']:>11.2f}"
              f"{r['peak_rss_mb']:>13.0f}  {r['dropped']}")
    print(f"target (limit={args.limit}: < {TARGET_S:.0f} s, < {TARGET_RSS_MB:.0f} MB): "
          f"{'met' if result['meets_target'] else 'NOT met'}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
