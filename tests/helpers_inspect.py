"""Fixtures for the Inspect plugin tests: small data files in the public layouts, replay files,
and a runner for the real ``inspect eval`` CLI (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from data_fixtures import write_jsonl  # noqa: F401 - re-exported for the Inspect tests

REPO = Path(__file__).resolve().parents[1]
SHARED_RB = REPO.parent / "shared" / "data" / "reward-bench" / "chat_and_chat_hard.jsonl"

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "INSPECT_DISPLAY": "none",
}

RUBRIC = {
    "criteria": "Is the response helpful and correct?",
    **{f"score{i}_description": f"Level {i} of helpfulness." for i in range(1, 6)},
}


def biggen_rows() -> list[dict[str, Any]]:
    """BiGGen-Bench-Results ``human_eval`` layout: 2 capabilities x 3 instances x 2 models, plus one
    unrated row and one multilingual row that the loader drops."""
    rows = []
    human = [1, 2, 3, 4, 5, 2, 4, 3, 5, 1, 2, 4]
    k = 0
    for cap in ("reasoning", "planning"):
        for idx in range(3):
            for model in ("m1", "m2"):
                rows.append(
                    {
                        "id": f"{cap}_task_{idx}",
                        "capability": cap,
                        "task": "task",
                        "instance_idx": idx,
                        "system_prompt": "You are helpful.",
                        "input": f"Question {cap} {idx}?",
                        "reference_answer": f"Reference {cap} {idx}.",
                        "score_rubric": RUBRIC,
                        "model_name": model,
                        "response": f"RESPONSE-{cap}-{idx}-{model}",
                        "human_score": human[k],
                    }
                )
                k += 1
    extra = dict(rows[0], model_name="m3", response="RESPONSE-unrated", human_score=-1)
    multi = dict(
        rows[0], id="multilingual_t_0", capability="multilingual", response="RESPONSE-multi", human_score=3
    )
    return rows + [extra, multi]


def feedback_rows() -> list[dict[str, Any]]:
    """Feedback Bench layout (``orig_score`` is a string)."""
    gold = ["1", "2", "3", "4", "5", "3", "2", "5"]
    rows = []
    for i, g in enumerate(gold):
        rows.append(
            {
                "orig_instruction": f"Instruction {i}",
                "orig_response": f"FB-RESPONSE-{i}",
                "orig_reference_answer": f"Reference {i}",
                "orig_criteria": "Is it good?",
                **{f"orig_score{lvl}_description": f"Level {lvl}." for lvl in range(1, 6)},
                "orig_score": g,
                "orig_feedback": "Feedback.",
                "instruction": "rendered prompt",
                "output": f"Feedback. [RESULT] {g}",
                "__index_level_0__": 100 + i,
            }
        )
    return rows


def rewardbench_rows() -> list[dict[str, Any]]:
    """RewardBench ``filtered`` layout over Chat and Chat Hard subsets."""
    subsets = ["alpacaeval-easy"] * 3 + ["mt-bench-easy"] * 2 + ["llmbar-natural"] * 3 + ["mt-bench-hard"] * 2
    return [
        {
            "prompt": f"Prompt {i}",
            "chosen": f"CHOSEN-{i}",
            "chosen_model": "a",
            "rejected": f"REJECTED-{i}",
            "rejected_model": "b",
            "subset": s,
            "id": i,
        }
        for i, s in enumerate(subsets)
    ]


def write_data_dir(root: Path) -> Path:
    """One directory serving all three tasks through their split names."""
    data = root / "data"
    write_jsonl(data / "human_eval.jsonl", biggen_rows())
    write_jsonl(data / "train.jsonl", feedback_rows())
    write_jsonl(data / "filtered.jsonl", rewardbench_rows())
    return data


def run_inspect(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run ``inspect eval ...`` (the real CLI) offline; fail with its output on a non-zero exit."""
    inspect_bin = Path(sys.executable).with_name("inspect")
    env = {**os.environ, **OFFLINE_ENV}
    proc = subprocess.run(
        [str(inspect_bin), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"inspect {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    return proc


def read_logs(log_dir: Path) -> dict[str, Any]:
    """Eval logs in ``log_dir`` by task name (without the package prefix)."""
    from inspect_ai.log import read_eval_log

    logs = {}
    for f in sorted(log_dir.glob("*.eval")):
        log = read_eval_log(str(f))
        assert log.status == "success", f"{f}: {log.status} {log.error}"
        logs[log.eval.task.split("/")[-1]] = log
    return logs


def metrics_of(log: Any, reducer: str | None = None) -> dict[str, float]:
    """Metric name -> value for the judge scorer (and the given epoch reducer)."""
    for score in log.results.scores:
        if reducer is None or score.reducer == reducer:
            return {name: m.value for name, m in score.metrics.items()}
    raise KeyError(f"no scores for reducer {reducer!r}: {[s.reducer for s in log.results.scores]}")
