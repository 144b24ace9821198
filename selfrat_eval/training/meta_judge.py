"""Meta-judge ratings: the judge grades its own judgments (the paper's weaker alternative)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..formats import absolute_prompt
from ..rubric import Rubric, get_rubric
from .curation import judgment_text
from .data import read_jsonl
from .sampling import Unit

META_RUBRIC = Rubric(
    criteria="Is the feedback an accurate, well-grounded assessment of the response under the given rubric, "
    "and is its score the one the rubric calls for?",
    descriptions={
        1: "The feedback misreads the response or the rubric and its score is clearly wrong.",
        2: "The feedback has major errors; the score is off by more than one level.",
        3: "The feedback is partly right but misses important points; the score is debatable.",
        4: "The feedback is accurate with minor omissions; the score is appropriate.",
        5: "The feedback is accurate, specific and grounded in the rubric; the score is exactly right.",
    },
)


def meta_units(records: Sequence[Mapping[str, Any]], rubric: str | Rubric | None = None) -> list[Unit]:
    """One rating prompt per valid sampled judgment: the task is the original grading prompt."""
    meta = get_rubric(rubric) if rubric is not None else META_RUBRIC
    units = []
    for rec in records:
        task = "\n\n".join(m["content"] for m in rec["prompt"] if m["role"] == "user")
        for i, s in enumerate(rec["samples"]):
            if s.get("score") is None or s.get("rationale") is None:
                continue
            p = absolute_prompt(task, judgment_text(s), meta)
            units.append(Unit(key=f"{rec['key']}#{i}", prompt=p.messages(), extra={}, scale=meta.scale))
    return units


def read_ratings(path: Path) -> dict[str, list[float | None]]:
    """``{input key: [mean rating of sample i or None]}`` from a meta-judge samples file."""
    out: dict[str, dict[int, float | None]] = {}
    for row in read_jsonl(path):
        key, _, idx = str(row["key"]).rpartition("#")
        scores = [s["score"] for s in row["samples"] if s.get("score") is not None]
        out.setdefault(key, {})[int(idx)] = (sum(scores) / len(scores)) if scores else None
    return {k: [v.get(i) for i in range(max(v) + 1)] for k, v in out.items()}
