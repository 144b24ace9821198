"""Fault injection for resume tests: ``SELFRAT_TRAIN_FAULT=sample:K`` raises after K sample batches
have been written in this process; ``dpo:K`` / ``sft:K`` raise right after the trainer saved the
checkpoint of step >= K. A real kill (SIGKILL, OOM, preemption) leaves the same state on disk."""

from __future__ import annotations

import os
from typing import Any

ENV = "SELFRAT_TRAIN_FAULT"


class InjectedFault(RuntimeError):
    """Raised on purpose to simulate a killed run."""


def fault_at(stage: str) -> int | None:
    spec = os.environ.get(ENV, "")
    for part in spec.split(","):
        name, _, k = part.partition(":")
        if name.strip() == stage and k.strip().isdigit():
            return int(k)
    return None


def check(stage: str, count: int) -> None:
    k = fault_at(stage)
    if k is not None and count >= k:
        raise InjectedFault(f"injected fault in {stage} after {count} (SELFRAT_TRAIN_FAULT={os.environ[ENV]})")


def trainer_callback(stage: str) -> Any:
    from transformers import TrainerCallback

    class _FaultCallback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers signature
            check(stage, state.global_step)
            return control

    return _FaultCallback()
