"""Fake backend and data files for the runner tests (no model needed)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selfrat_eval.generation.base import Prompt, Sample, SamplingConfig

DEFAULT_SAMPLING = SamplingConfig()


def _text_of(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(list(prompt), sort_keys=True)


class FakeBackend:
    """Deterministic judge: output j for (prompt, seed) comes from a hash; 1 in ``fail_every`` is
    unparsable. Relative prompts (mentioning 'Response B') answer A/B, the others a 1..5 score."""

    name = "fake"

    def __init__(self, fail_every: int = 4, model_id: str = "fake-judge", with_logprobs: bool = True) -> None:
        self.fail_every = fail_every
        self.model_id = model_id
        self.with_logprobs = with_logprobs
        self.calls: list[dict[str, Any]] = []

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int = 1,
        sampling: SamplingConfig = DEFAULT_SAMPLING,
        seed: int = 0,
    ) -> list[list[Sample]]:
        self.calls.append({"n_prompts": len(prompts), "n": n, "seed": seed, "prompts": list(prompts)})
        out = []
        for p in prompts:
            text = _text_of(p)
            relative = "###Response B:" in text
            group = []
            for j in range(n):
                h = int(hashlib.sha256(f"{text}|{seed}|{j}|{sampling.temperature}".encode()).hexdigest(), 16)
                if self.fail_every and h % self.fail_every == 0:
                    out_text = "I cannot decide."
                elif relative:
                    out_text = f"Rationale {h % 997}. [RESULT] {'AB'[h % 2]}"
                else:
                    out_text = f"Rationale {h % 997}. [RESULT] {h % 5 + 1}"
                lps = tuple(-((h >> (4 * k)) % 16 + 1) / 8 for k in range(3)) if self.with_logprobs else None
                group.append(Sample(out_text, lps, "stop"))
            out.append(group)
        return out


def write_custom_data(path: Path, n: int = 12, with_rubric_column: bool = False) -> Path:
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "id": f"item-{i}",
            "instruction": f"Question number {i}?",
            "response": f"Answer {i} " + "word " * (i % 4),
            "score": i % 5 + 1,
            "group": "even" if i % 2 == 0 else "odd",
        }
        rows.append(row)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def write_rewardbench_data(path: Path, n: int = 8) -> Path:
    subsets = ["alpacaeval-easy", "mt-bench-hard", "refusals-dangerous", "math-prm"]
    rows = [
        {
            "id": i,
            "prompt": f"Prompt {i}",
            "chosen": f"good answer {i}",
            "chosen_model": "a",
            "rejected": f"bad answer {i}",
            "rejected_model": "b",
            "subset": subsets[i % len(subsets)],
        }
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path
