"""DPO on self-curated pairs with trl (LoRA through peft, or full fine-tuning).

Reference model across iterations (the trl/peft pitfall):
- LoRA: judge t-1 is a plain model (adapters are merged at the end of every stage), so trl's
  "adapter disabled" reference IS judge t-1, not the original base model.
- Full fine-tuning: with ``ref_model=None`` trl would rebuild the reference from the config's
  ``name_or_path``. We either precompute reference log-probs from the freshly loaded judge t-1
  before training starts (``ref_mode: precompute``, the default) or pass an explicit reference
  loaded from judge t-1's directory (``ref_mode: explicit``).
``reference_probe.json`` records trl's reference log-probs of the first pairs so tests (and users)
can check which model the reference was; ``loss_weights.json`` how much the NLL term weighs
against the DPO term per chosen token (:func:`loss_token_weights`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import faults
from .config import TrainConfig
from .fused_head import labelled_positions_only
from .modeling import ModelRef, free_accelerator_memory, load_model, load_tokenizer, peft_config, save_trained
from .trainer_args import common_args, last_checkpoint, one_device_per_process

log = logging.getLogger(__name__)

PROBE_PAIRS = 4


def dpo_rows(pairs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """trl's conversational preference layout."""
    return [{"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"]} for p in pairs]


def build_trainer(pairs: Sequence[dict[str, Any]], start: ModelRef, out_dir: Path, cfg: TrainConfig, *, seed: int) -> Any:
    from trl import DPOConfig as TrlDPOConfig
    from trl import DPOTrainer

    d = cfg.dpo
    lora = cfg.lora.enabled
    loss_type = [d.loss_type]
    loss_weights = None
    if d.nll_alpha > 0:
        # Self-Taught Evaluators: DPO plus an NLL term on the chosen judgment (trl's "sft" loss).
        loss_type.append("sft")
        loss_weights = [1.0, d.nll_alpha]
    precompute = (not lora) and d.ref_mode in ("auto", "precompute")
    tokenizer = load_tokenizer(start, cfg)
    model = load_model(start, cfg)
    ref_model = load_model(start, cfg) if (not lora and d.ref_mode == "explicit") else None
    args = TrlDPOConfig(
        **common_args(d, out_dir / "checkpoints", cfg, seed),
        beta=d.beta,
        loss_type=loss_type,
        loss_weights=loss_weights,
        precompute_ref_log_probs=precompute,
    )
    one_device_per_process(args)
    return DPOTrainer(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=_dataset(pairs, out_dir),
        processing_class=tokenizer,
        peft_config=peft_config(cfg.lora) if lora else None,
        callbacks=[faults.trainer_callback("dpo")],
    )


def _dataset(pairs: Sequence[dict[str, Any]], out_dir: Path) -> Any:
    """The pairs as a ``datasets.Dataset``. Under a multi-process launch the main process saves
    them once to ``out_dir/dataset`` and every rank loads that folder: trl caches the precomputed
    reference log-probs next to the dataset's files (an in-memory dataset would put them in a
    per-process temp dir the other ranks cannot see)."""
    from datasets import Dataset, load_from_disk

    from .distributed import barrier, distributed, is_main

    ds = Dataset.from_list(dpo_rows(pairs))
    if not distributed():
        return ds
    folder = out_dir / "dataset"
    if is_main() and not (folder / "dataset_info.json").is_file():
        tmp = out_dir / "dataset.tmp"
        ds.save_to_disk(str(tmp))
        tmp.replace(folder)
    barrier()
    return load_from_disk(str(folder))


def reference_probe(trainer: Any, n: int = PROBE_PAIRS) -> dict[str, Any]:
    """trl's own reference log-probs (sum over completion tokens) for the first ``n`` rows."""
    import torch

    ds = trainer.train_dataset
    rows = [ds[i] for i in range(min(n, len(ds)))]
    if "ref_chosen_logps" in ds.column_names:  # precomputed before training
        ref_c = [float(r["ref_chosen_logps"]) for r in rows]
        ref_r = [float(r["ref_rejected_logps"]) for r in rows]
    else:
        batch = trainer.data_collator([{k: r[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")} for r in rows])
        device = next(trainer.model.parameters()).device
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        trainer.model.eval()
        c, r = trainer.compute_ref_log_probs(trainer.model, batch)
        trainer.model.train()
        ref_c, ref_r = c.float().cpu().tolist(), r.float().cpu().tolist()
    return {
        "prompt_ids": [list(r["prompt_ids"]) for r in rows],
        "chosen_ids": [list(r["chosen_ids"]) for r in rows],
        "rejected_ids": [list(r["rejected_ids"]) for r in rows],
        "ref_chosen_logps": ref_c,
        "ref_rejected_logps": ref_r,
    }


def train_dpo(pairs: Sequence[dict[str, Any]], start: ModelRef, out_dir: Path, cfg: TrainConfig, *, seed: int) -> Path:
    """DPO from judge ``start``; returns ``out_dir/model`` (plain model, LoRA merged). Resumable."""
    if not pairs:
        raise ValueError(f"{out_dir}: no preference pairs to train on")
    out_dir.mkdir(parents=True, exist_ok=True)
    # trl's reference and policy forwards skip the masked prompt's vocabulary projection (fused_head.py)
    with labelled_positions_only():
        trainer = build_trainer(pairs, start, out_dir, cfg, seed=seed)
        main = trainer.accelerator.is_main_process  # under DDP every rank trains; one writes files
        probe = reference_probe(trainer)
        probe["reference"] = start.path
        if main:
            chosen_lengths = [len(ids) for ids in trainer.train_dataset["chosen_ids"]]
            weights = loss_token_weights(cfg.dpo.beta, cfg.dpo.nll_alpha, cfg.dpo.loss_type, chosen_lengths)
            (out_dir / "reference_probe.json").write_text(json.dumps(probe), encoding="utf-8")
            (out_dir / "loss_weights.json").write_text(json.dumps(weights, indent=1), encoding="utf-8")
            if weights["nll_over_dpo"] is not None:
                log.info("DPO: the NLL term weighs each chosen token %.2fx the DPO term at the start", weights["nll_over_dpo"])
        resume = last_checkpoint(out_dir / "checkpoints")
        if resume:
            log.info("DPO: resuming from %s", resume)
        result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_metrics("train", result.metrics)
    history = [h for h in trainer.state.log_history if any(k.startswith("rewards/") for k in h)]
    if main:
        (out_dir / "train_log.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    model_dir = save_trained(trainer, trainer.processing_class, out_dir / "model")
    del trainer
    free_accelerator_memory()  # before the caller loads two more models for the margins
    return model_dir


def loss_token_weights(beta: float, nll_alpha: float, loss_type: str, chosen_lengths: Sequence[int]) -> dict[str, Any]:
    """Each chosen token's log-prob weight in the loss at the start of training (margin 0).

    The sigmoid DPO loss sums log-probs over the sequence, so each token gets beta/2; trl's "sft"
    term is a mean over the chosen tokens, so each gets nll_alpha / (mean chosen length). Their
    ratio says which term the first updates follow: ``nll_alpha: 1`` with beta 0.1 and 100-token
    judgments is 0.2, DPO-led. Other loss types scale differently: ``dpo_per_token`` and the ratio
    are None for them rather than a wrong number."""
    mean_len = sum(chosen_lengths) / len(chosen_lengths) if chosen_lengths else None
    dpo = beta / 2 if loss_type == "sigmoid" else None
    nll = nll_alpha / mean_len if mean_len else None
    ratio = nll / dpo if (nll is not None and dpo and nll_alpha > 0) else None
    return {
        "loss_type": loss_type, "beta": beta, "nll_alpha": nll_alpha, "mean_chosen_tokens": mean_len,
        "dpo_per_token": dpo, "nll_per_token": nll if nll_alpha > 0 else None, "nll_over_dpo": ratio,
    }


# ---- log-prob margins (measured outside trl, on a plain model) ----------------------------------


def completion_ids(tokenizer: Any, prompt: list[dict[str, str]], completion: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) split where the chat-templated prompt and prompt+completion
    diverge, as trl does."""
    p = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=False)
    pid = tokenizer(p, add_special_tokens=False)["input_ids"]
    fid = tokenizer(full, add_special_tokens=False)["input_ids"]
    k = 0
    while k < min(len(pid), len(fid)) and pid[k] == fid[k]:
        k += 1
    return fid[:k], fid[k:]


def sequence_logp(model: Any, prompt_ids: Sequence[int], comp_ids: Sequence[int]) -> float:
    """Sum of log p(completion token | prefix) under ``model``."""
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt_ids) + list(comp_ids)], device=device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logps = torch.log_softmax(logits, dim=-1)
    targets = ids[0, 1:]
    token_lp = logps.gather(1, targets[:, None]).squeeze(1)
    return float(token_lp[len(prompt_ids) - 1 :].sum())


def pair_margins(model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]]) -> list[float]:
    """log p(chosen) - log p(rejected) for each pair (the quantity DPO pushes up)."""
    model.eval()
    out = []
    for p in pairs:
        pc, cc = completion_ids(tokenizer, p["prompt"], p["chosen"])
        pr, cr = completion_ids(tokenizer, p["prompt"], p["rejected"])
        out.append(sequence_logp(model, pc, cc) - sequence_logp(model, pr, cr))
    return out
