"""Process-group helpers for ``selfrat train`` under ``accelerate launch`` / ``torchrun``.

One process per rank runs the whole pipeline. Only the main process writes run files (manifest,
splits, samples, pairs, metrics, models); training stages run DDP on every rank; self-sampling is
sharded by batch across ranks and gathered to the main process, which writes ``samples.jsonl``
in batch order, so the file equals a single-process run's.

On a machine without CUDA (or with ``use_cpu: true``) the process group is initialised here as
accelerate's MULTI_CPU state (gloo) before any trainer exists: ``accelerate launch`` does not tell
its workers to use the CPU when it starts them through torchrun (see the shipped
``accelerate/cpu-ddp.yaml``). The group timeout (``SELFRAT_DIST_TIMEOUT`` seconds, default 6 h)
covers ranks waiting while the main process curates or evaluates.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 6 * 3600


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def distributed() -> bool:
    return world_size() > 1


def sharded_launch() -> list[str]:
    """The sharding launchers accelerate's environment names (``FSDP``, ``DeepSpeed``); empty for
    plain DDP or one process."""
    flags = (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed"))
    return [name for flag, name in flags if os.environ.get(flag, "false").lower() == "true"]


def init_distributed(cfg: Any = None) -> None:
    """Create accelerate's process state once (no-op in a single process)."""
    if not distributed():
        return
    from accelerate import PartialState

    if PartialState._shared_state:  # already initialised (e.g. by a trainer or a test)
        return
    cpu = True
    try:
        import torch

        cpu = not torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch comes with the train extra
        pass
    if cfg is not None and getattr(cfg, "use_cpu", None) is not None:
        cpu = cpu or bool(cfg.use_cpu)
    if cpu:
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")  # trainers' AcceleratorState agrees
        for name in sharded_launch():
            # accelerate (1.15) only turns MULTI_GPU-like states into FSDP/DeepSpeed: on CPU
            # processes the model is wrapped in plain DDP, every rank holding a full copy.
            log.warning("%s launch config on CPU: accelerate runs it as DDP over gloo (no sharding)", name)
    timeout = timedelta(seconds=int(os.environ.get("SELFRAT_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    PartialState(cpu=cpu, timeout=timeout)


def rank() -> int:
    if not distributed():
        return 0
    from accelerate import PartialState

    return int(PartialState().process_index)


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if distributed():
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def local_device() -> str | None:
    """This rank's device under a multi-GPU launch (``cuda:LOCAL_RANK``), else None."""
    if not distributed():
        return None
    from accelerate import PartialState

    device = PartialState().device
    return None if device is None or device.type == "cpu" else str(device)


def broadcast(obj: Any) -> Any:
    """The main process's ``obj`` on every rank."""
    if not distributed():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    if not distributed():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out
