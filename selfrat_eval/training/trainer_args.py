"""Trainer arguments shared by the SFT and DPO stages (trl config classes)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .config import ConfigError, TrainConfig, TrainerSettings
from .distributed import sharded_launch
from .modeling import resolve_dtype, use_cpu

log = logging.getLogger(__name__)


def check_training_precision(cfg: TrainConfig, dtype: Any) -> None:
    """Full fine-tuning updates the weights in their own dtype unless FSDP/DeepSpeed keeps float32
    master copies: in bfloat16 a step below half a rounding step at a weight's size is lost (at
    lr 5e-6 most of them); float16 has no loss scaling here and overflows."""
    import torch

    if cfg.lora.enabled or dtype == torch.float32 or sharded_launch():  # FSDP/DeepSpeed: float32 masters
        return
    if dtype == torch.float16:
        raise ConfigError("model.dtype float16: full fine-tuning runs without loss scaling here; use bfloat16 or float32")
    log.warning(
        "full fine-tuning with %s weights and no FSDP/DeepSpeed: the optimizer updates them in %s and small "
        "steps round away; model.dtype: float32 with model.autocast_bf16: true keeps float32 weights",
        dtype, dtype,
    )


def common_args(settings: TrainerSettings, out_dir: Path, cfg: TrainConfig, seed: int) -> dict[str, Any]:
    import torch

    dtype = resolve_dtype(cfg)
    check_training_precision(cfg, dtype)
    return {
        "output_dir": str(out_dir),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "learning_rate": settings.learning_rate,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "max_length": settings.max_length,
        "warmup_steps": settings.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        "lr_scheduler_type": settings.lr_scheduler_type,
        "weight_decay": settings.weight_decay,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "report_to": cfg.report_to,
        "seed": seed,
        "data_seed": seed,
        "use_cpu": use_cpu(cfg),
        "bf16": dtype == torch.bfloat16 or cfg.model.autocast_bf16,
        "fp16": False,
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
    }


def one_device_per_process(args: Any) -> Any:
    """Keep each process on one device. A single process that sees several GPUs would otherwise
    get its model wrapped in ``nn.DataParallel``: the configured batch silently becomes one per GPU
    (4 GPUs: 4x the effective batch, a quarter of the steps). Multi-GPU training is ``accelerate
    launch`` / ``torchrun``, one process per GPU."""
    if args.n_gpu > 1:
        args._n_gpu = 1
    return args


def last_checkpoint(out_dir: Path) -> str | None:
    """Newest complete ``checkpoint-N`` in ``out_dir`` (what a killed trainer left), or None."""
    if not out_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out_dir))
