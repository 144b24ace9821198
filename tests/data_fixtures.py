"""Small benchmark files in the public layouts, written by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RUBRIC_FIELDS = {
    "criteria": "Does the response answer correctly?",
    **{f"score{i}_description": f"Level {i} description." for i in range(1, 6)},
}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def biggen_results_rows() -> list[dict[str, Any]]:
    """BiGGen-Bench-Results ``human_eval`` layout: 2 capabilities x 2 models, one unrated, one multilingual."""
    rows = []
    specs = [
        ("reasoning", "math", 0, "model-a", 4),
        ("reasoning", "math", 0, "model-b", 2),
        ("reasoning", "math", 1, "model-a", 5),
        ("reasoning", "math", 1, "model-b", -1),
        ("planning", "travel", 0, "model-a", 3),
        ("planning", "travel", 0, "model-b", 1),
        ("refinement", "llm_judge_absolute", 0, "model-a", 2),
        ("multilingual", "french", 0, "model-a", 4),
    ]
    for cap, task, idx, model, human in specs:
        rows.append(
            {
                "id": f"{cap}_{task}_{idx}",
                "capability": cap,
                "task": task,
                "instance_idx": idx,
                "system_prompt": "You are helpful.",
                "input": f"Question {cap} {idx}",
                "reference_answer": "The reference.",
                "score_rubric": dict(RUBRIC_FIELDS),
                "model_name": model,
                "response": f"Answer of {model}",
                "human_score": human,
                "gpt4_score": 3,
            }
        )
    return rows


def feedback_rows(n: int = 6) -> list[dict[str, Any]]:
    """Feedback Bench / Feedback-Collection layout (``orig_score`` is a string)."""
    rows = []
    for i in range(n):
        score = i % 5 + 1
        rows.append(
            {
                "orig_instruction": f"Instruction {i}",
                "orig_response": f"Response {i}",
                "orig_reference_answer": f"Reference {i}",
                "orig_criteria": "Is it good?",
                **{f"orig_score{k}_description": f"Level {k}." for k in range(1, 6)},
                "orig_score": str(score),
                "orig_feedback": f"Feedback {i}.",
                "instruction": "(rendered prompt)",
                "output": f"Feedback {i}. [RESULT] {score}",
                "__index_level_0__": 100 + i,
            }
        )
    return rows


def rewardbench_rows() -> list[dict[str, Any]]:
    subsets = ["alpacaeval-easy", "mt-bench-hard", "math-prm", "hep-python", "donotanswer"]
    return [
        {
            "prompt": f"Prompt {i}",
            "chosen": f"Good answer {i}",
            "chosen_model": "m1",
            "rejected": f"Bad answer {i}",
            "rejected_model": "m2",
            "subset": subset,
            "id": i,
        }
        for i, subset in enumerate(subsets)
    ]
