"""Fixtures for the training tests: Feedback-Collection / Feedback-Bench layout files and a tiny
judge config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfrat_eval.rubric import BUILTIN_RUBRICS


def feedback_row(i: int, score: int, *, instruction: str | None = None, response: str | None = None) -> dict[str, Any]:
    rubric = BUILTIN_RUBRICS["helpfulness"]
    row = {
        "orig_instruction": instruction or f"Explain helpfulness in one sentence, case {i}.",
        "orig_response": response or f"It is a quality of answers number {i}.",
        "orig_reference_answer": "Ref.",
        "orig_criteria": rubric.criteria,
        "orig_score": str(score),
        "orig_feedback": f"The response meets level {score} of the rubric.",
        "output": f"The response meets level {score} of the rubric. [RESULT] {score}",
        "instruction": "(rendered prompt)",
        "__index_level_0__": i,
    }
    for level, text in rubric.descriptions.items():
        row[f"orig_score{level}_description"] = text
    return row


def write_collection(path: Path, n: int) -> Path:
    rows = [feedback_row(i, 1 + i % 5) for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_bench(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tiny_config(tmp: Path, model_dir: Path, data: Path, bench: Path | None, **over: Any) -> dict[str, Any]:
    """A config that trains the tiny Llama in seconds: SFT converges on the short uniform targets,
    so sampled judgments parse and spread over scores, which gives preference pairs."""
    cfg: dict[str, Any] = {
        "output_dir": str(tmp / "run"),
        "seed": 0,
        "model": {"name_or_path": str(model_dir), "dtype": "float32"},
        "lora": {"enabled": False},
        "data": {"source": str(data), "decontaminate_against": str(bench) if bench else None, "heldout_size": 6},
        "sft": {
            "epochs": 10, "learning_rate": 5e-3, "batch_size": 8, "gradient_accumulation_steps": 1,
            "max_length": 1024, "warmup_ratio": 0.0, "lr_scheduler_type": "constant", "logging_steps": 5,
            "save_steps": 1000,
        },
        "sampling": {"n": 6, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 24, "batch_size": 4, "hf_batch_size": 24, "repetition_penalty": 1.0},
        "curation": {"strategy": "gold", "min_gap": 2, "pairs_per_input": 2, "balance": False},
        "dpo": {
            "epochs": 2, "learning_rate": 1e-3, "batch_size": 4, "gradient_accumulation_steps": 1, "beta": 0.1,
            "max_length": 1024, "warmup_ratio": 0.0, "lr_scheduler_type": "constant", "logging_steps": 1,
            "save_steps": 2, "heldout_pairs": 4,
        },
        "evaluation": {"max_new_tokens": 24, "chunk_size": 8, "bootstrap": 50},
        "iterations": [12, 8],
        "use_cpu": True,
    }
    for key, value in over.items():
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return cfg
