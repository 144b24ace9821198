"""Training baselines on the same config surface: SFT only, and best-of-N rejection-sampling SFT."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from .curation import judgment_text


def rejection_sampling_examples(
    records: Sequence[Mapping[str, Any]], per_input: int, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """SFT rows from sampled judgments that land on the gold score (up to ``per_input`` distinct
    texts per input, seeded), plus counts."""
    rows: list[dict[str, Any]] = []
    n_inputs_kept = 0
    for rec in records:
        if rec.get("gold") is None:
            raise ValueError(f"samples record {rec.get('key')}: rejection sampling needs a gold score")
        texts = []
        for s in rec["samples"]:
            if s.get("score") is not None and s.get("rationale") is not None and int(s["score"]) == int(rec["gold"]):
                t = judgment_text(s)
                if t not in texts:
                    texts.append(t)
        random.Random(f"{seed}:{rec['key']}").shuffle(texts)
        texts = texts[:per_input]
        n_inputs_kept += bool(texts)
        rows += [{"prompt": rec["prompt"], "completion": [{"role": "assistant", "content": t}]} for t in texts]
    stats = {"n_inputs": len(records), "n_inputs_kept": n_inputs_kept, "n_examples": len(rows)}
    return rows, stats
