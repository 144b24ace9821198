"""Fault injection for resume tests: ``SELFRAT_TRAIN_FAULT=sample:K`` raises after K sample batches
have been written in this process; ``dpo:K`` / ``sft:K`` raise right after the trainer saved the
checkpoint of step >= K. A real kill (SIGKILL, OOM, preemption) leaves the same state on disk.

Multi-process runs: ``sample:K@R`` fires only in the process of rank R (``RANK``), and
``SELFRAT_TRAIN_FAULT_MODE=kill`` makes the process SIGKILL itself instead of raising (nothing
is flushed or cleaned up, as with a real kill; the launcher then stops the other ranks)."""

from __future__ import annotations

import os
from typing import Any

ENV = "SELFRAT_TRAIN_FAULT"


class InjectedFault(RuntimeError):
    """Raised on purpose to simulate a killed run."""


MODE_ENV = "SELFRAT_TRAIN_FAULT_MODE"


def fault_at(stage: str) -> int | None:
    spec = os.environ.get(ENV, "")
    rank = os.environ.get("RANK", "0")
    for part in spec.split(","):
        name, _, k = part.partition(":")
        k, _, only_rank = k.partition("@")
        if only_rank.strip() and only_rank.strip() != rank:
            continue
        if name.strip() == stage and k.strip().isdigit():
            return int(k)
    return None


def check(stage: str, count: int) -> None:
    k = fault_at(stage)
    if k is not None and count >= k:
        if os.environ.get(MODE_ENV) == "kill":
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected fault in {stage} after {count} (SELFRAT_TRAIN_FAULT={os.environ[ENV]})")


def trainer_callback(stage: str) -> Any:
    from transformers import TrainerCallback

    class _FaultCallback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers signature
            check(stage, state.global_step)
            return control

    return _FaultCallback()
