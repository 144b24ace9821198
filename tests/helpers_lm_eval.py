"""Fixtures for the lm-eval plugin tests: small data files in the real benchmark layouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from data_fixtures import write_jsonl as _write_jsonl

REPO_ROOT = Path(__file__).resolve().parents[1]
CAPABILITIES = ("planning", "reasoning", "safety")
RB_SUBSETS = ("alpacaeval-easy", "mt-bench-hard", "refusals-dangerous", "math-prm", "hep-python")


def _rubric(prefix: str = "") -> dict[str, str]:
    rubric = {f"{prefix}criteria": "Is the answer correct and clear?"}
    for level in range(1, 6):
        rubric[f"{prefix}score{level}_description"] = f"Level {level} answer."
    return rubric




def biggen_rows(n_instances: int = 6) -> list[dict[str, Any]]:
    """BiGGen-Bench-Results ``human_eval`` layout: 2 response models per instance, one unrated row."""
    rows = []
    for i in range(n_instances):
        cap = CAPABILITIES[i % len(CAPABILITIES)]
        base = {
            "id": f"{cap}_task_{i}",
            "capability": cap,
            "task": "task",
            "instance_idx": i,
            "system_prompt": "You are helpful.",
            "input": f"Question {i}?",
            "reference_answer": f"Answer {i}.",
            "score_rubric": _rubric(),
        }
        for m, model in enumerate(("model-a", "model-b")):
            human = -1 if (i == 0 and m == 1) else (i + 2 * m) % 5 + 1
            rows.append(
                {**base, "model_name": model, "response": f"Reply {i} from {model}.", "human_score": human}
            )
    return rows


def feedback_rows(n: int = 6) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "orig_instruction": f"Explain item {i}.",
                "orig_response": f"Item {i} explained.",
                "orig_reference_answer": f"Reference {i}.",
                **_rubric("orig_"),
                "orig_score": str(i % 5 + 1),
                "orig_feedback": "Fine.",
                "output": f"Fine. [RESULT] {i % 5 + 1}",
                "__index_level_0__": 100 + i,
            }
        )
    return rows


def rewardbench_rows(per_subset: int = 2) -> list[dict[str, Any]]:
    rows = []
    for s, subset in enumerate(RB_SUBSETS):
        for k in range(per_subset):
            rows.append(
                {
                    "prompt": f"Prompt {s}-{k}?",
                    "chosen": f"Good answer {s}-{k}.",
                    "chosen_model": "good",
                    "rejected": f"Bad answer {s}-{k}.",
                    "rejected_model": "bad",
                    "subset": subset,
                    "id": s * 100 + k,
                }
            )
    return rows


def write_fixtures(root: Path) -> dict[str, Path]:
    return {
        "biggen": _write_jsonl(root / "biggen" / "human_eval.jsonl", biggen_rows()),
        "feedback_bench": _write_jsonl(root / "feedback" / "train.jsonl", feedback_rows()),
        "rewardbench": _write_jsonl(root / "rewardbench" / "filtered.jsonl", rewardbench_rows()),
    }


def offline_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("SELFRAT_LM_EVAL_HOOK", None)
    env.update(extra)
    return env


def lm_eval_exe() -> str:
    return str(Path(sys.executable).with_name("lm_eval"))


def run(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=env or offline_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def read_results(output_dir: Path) -> dict[str, Any]:
    files = sorted(output_dir.rglob("results_*.json"))
    assert files, f"no results JSON under {output_dir}"
    return json.loads(files[-1].read_text())
