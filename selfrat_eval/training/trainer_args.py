"""Trainer arguments shared by the SFT and DPO stages (trl config classes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import TrainConfig, TrainerSettings
from .modeling import resolve_dtype, use_cpu


def common_args(settings: TrainerSettings, out_dir: Path, cfg: TrainConfig, seed: int) -> dict[str, Any]:
    import torch

    dtype = resolve_dtype(cfg)
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


def last_checkpoint(out_dir: Path) -> str | None:
    """Newest complete ``checkpoint-N`` in ``out_dir`` (what a killed trainer left), or None."""
    if not out_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out_dir))
