"""Seed SFT: the judge learns ``rationale [RESULT] score`` on the absolute grading prompt.

Prompt-completion chat data with completion-only loss, so the model is trained on the judgment and
never on the prompt. Optional pairwise SFT (Preference-Collection, A/B verdicts) and a linear merge
of the two judges, as the paper's seed did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..formats import format_judgment, relative_prompt
from ..loaders import load_preference_collection
from ..parsing import parse_judgment
from ..records import DataError, PairwiseItem, PointwiseItem
from . import faults
from .config import TrainConfig, TrainerSettings
from .data import judge_messages, sft_target
from .fused_head import labelled_positions_only
from .modeling import ModelRef, free_accelerator_memory, load_model, load_tokenizer, peft_config, save_trained
from .trainer_args import common_args, last_checkpoint, one_device_per_process

log = logging.getLogger(__name__)


def pointwise_examples(items: Sequence[PointwiseItem], use_reference: bool = True) -> list[dict[str, Any]]:
    """trl prompt-completion rows: prompt = grading chat, completion = the assistant's judgment."""
    return [
        {
            "prompt": judge_messages(it, use_reference),
            "completion": [{"role": "assistant", "content": sft_target(it)}],
        }
        for it in items
    ]


def pairwise_examples(items: Sequence[PairwiseItem]) -> list[dict[str, Any]]:
    """Relative (A/B) prompts in the original A/B order with the collection's rationale."""
    rows = []
    for it in items:
        pref = str(it.metadata.get("preference", "")).upper()
        target = it.metadata.get("target")
        if pref not in ("A", "B") or not target:
            raise DataError(f"pairwise item {it.id}: needs 'preference' and a target 'output'")
        a, b = (it.chosen, it.rejected) if pref == "A" else (it.rejected, it.chosen)
        criteria = str(it.metadata.get("criteria", "")).strip()
        if not criteria.startswith("["):
            criteria = f"[{criteria}]"
        judgment = parse_judgment(str(target), mode="relative")
        rationale = judgment.rationale if judgment.ok else str(target).strip()
        prompt = relative_prompt(it.prompt, a, b, criteria, it.reference_answer)
        rows.append(
            {
                "prompt": prompt.messages(),
                "completion": [{"role": "assistant", "content": format_judgment(rationale, pref)}],
            }
        )
    return rows


def train_sft(
    examples: list[dict[str, Any]],
    start: ModelRef,
    out_dir: Path,
    cfg: TrainConfig,
    settings: TrainerSettings | None = None,
    *,
    seed: int | None = None,
    fault_stage: str = "sft",
) -> Path:
    """SFT ``start`` on prompt-completion ``examples``; returns ``out_dir/model`` (a plain model).

    Resumes from the newest checkpoint in ``out_dir/checkpoints`` if a previous run was killed.
    """
    from datasets import Dataset
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    if not examples:
        raise DataError(f"{out_dir}: no SFT examples")
    settings = settings or cfg.sft
    seed = cfg.seed if seed is None else seed
    ckpt_dir = out_dir / "checkpoints"
    tokenizer = load_tokenizer(start, cfg)
    model = load_model(start, cfg)
    args = TrlSFTConfig(
        **common_args(settings, ckpt_dir, cfg, seed),
        completion_only_loss=True,
        packing=False,
        dataset_num_proc=None,
    )
    one_device_per_process(args)
    with labelled_positions_only():  # the prompt is masked out: its vocabulary projection is wasted
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(examples),
            processing_class=tokenizer,
            peft_config=peft_config(cfg.lora) if cfg.lora.enabled else None,
            callbacks=[faults.trainer_callback(fault_stage)],
        )
        resume = last_checkpoint(ckpt_dir)
        if resume:
            log.info("SFT: resuming from %s", resume)
        result = trainer.train(resume_from_checkpoint=resume)
    model_dir = save_trained(trainer, tokenizer, out_dir / "model")
    trainer.save_metrics("train", result.metrics)
    del trainer, model
    free_accelerator_memory()  # before the caller loads the next model (pairwise SFT, merge)
    return model_dir


def load_pairwise_items(cfg: TrainConfig) -> list[PairwiseItem]:
    pw = cfg.sft.pairwise
    return list(load_preference_collection(pw.source, pw.split, limit=pw.limit).items)
