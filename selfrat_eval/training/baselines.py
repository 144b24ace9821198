"""Training baselines on the same config surface: SFT only, and best-of-N rejection-sampling SFT."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..seeding import derive_seed
from .config import TrainConfig
from .consistency import consistency_check, passes
from .curation import balance_by_label, judgment_text


def rejection_sampling_examples(
    records: Sequence[Mapping[str, Any]],
    per_input: int,
    seed: int,
    *,
    balance: str = "none",
    balance_cap: int | None = None,
    consistency: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """SFT rows from sampled judgments that land on the gold score (up to ``per_input`` distinct
    texts per input, seeded), label-balanced like preference pairs (``balance``/``balance_cap``, see
    :func:`selfrat_eval.training.curation.balance_by_label`; without it a seed that is right mostly
    on one score teaches its SFT to say that score everywhere) and, with ``consistency``, only
    judgments whose score follows from their own rationale (as for chosen judgments), plus counts."""
    check = consistency_check(consistency)
    rows: list[dict[str, Any]] = []
    n_inputs_kept = 0
    for rec in records:
        if rec.get("gold") is None:
            raise ValueError(f"samples record {rec.get('key')}: rejection sampling needs a gold score")
        texts = []
        for s in rec["samples"]:
            valid = s.get("score") is not None and s.get("rationale") is not None
            if valid and int(s["score"]) == int(rec["gold"]) and passes(check, s):
                t = judgment_text(s)
                if t not in texts:
                    texts.append(t)
        random.Random(f"{seed}:{rec['key']}").shuffle(texts)
        texts = texts[:per_input]
        n_inputs_kept += bool(texts)
        rows += [
            {"prompt": rec["prompt"], "completion": [{"role": "assistant", "content": t}], "label": int(rec["gold"])}
            for t in texts
        ]
    before = Counter(r["label"] for r in rows)
    rows = balance_by_label(rows, seed, balance, balance_cap)
    stats = {
        "n_inputs": len(records),
        "n_inputs_kept": n_inputs_kept,
        "n_examples_before_balance": sum(before.values()),
        "n_examples": len(rows),
        "examples_by_label_before_balance": {str(k): v for k, v in sorted(before.items())},
        "examples_by_label": {str(k): v for k, v in sorted(Counter(r["label"] for r in rows).items())},
    }
    return [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows], stats


def rs_sft_examples(cfg: TrainConfig, records: Sequence[Mapping[str, Any]], iteration: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The RS-SFT rows a run trains on in ``iteration`` (its seed, per-input cap, label balancing and
    consistency check), for the pipeline and for analyses that rebuild them (they are not saved)."""
    return rejection_sampling_examples(
        records,
        cfg.rs_sft.per_input,
        derive_seed(cfg.seed, iteration, 2),
        balance=cfg.curation.balance,
        balance_cap=cfg.curation.balance_cap,
        consistency=cfg.curation.consistency,
    )
