"""trl's fused LM head scores only labelled positions on CPU inside ``labelled_positions_only``,
with the same log-probs and gradients as scoring every position."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
trl_utils = pytest.importorskip("trl.trainer.utils")

from selfrat_eval.training.fused_head import labelled_positions_only  # noqa: E402


def _patched_lora_model(model_dir: Path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    for name, p in model.named_parameters():  # LoRA B starts at 0: make the adapter matter
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    return model


def _scored_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rows: list[int] = []
    apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        rows.append(int(hidden.shape[0]))
        return apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    return rows


def _step(model, ids, labels):
    model.zero_grad()
    out = model(input_ids=ids, labels=labels, fused_lm_head=True)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.log_probs.detach(), out.entropy.detach(), out.loss.detach(), grads


def test_only_labelled_positions_are_projected_with_identical_logprobs_and_gradients(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _patched_lora_model(tiny_model_dir)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 500, (2, 40), generator=gen)
    labels = ids.clone()
    labels[0, :30] = -100  # prompts of different lengths, as in a batch of judge prompts
    labels[1, :25] = -100
    labelled = int((labels[:, 1:] != -100).sum())  # the head scores position t against label t+1
    rows = _scored_rows(monkeypatch)

    full = _step(model, ids, labels)
    assert rows == [2 * 39]  # stock trl on CPU: every position
    with labelled_positions_only() as active:
        assert active
        compact = _step(model, ids, labels)
    assert rows == [2 * 39, labelled]
    assert trl_utils._use_triton(torch.device("cpu")) is False  # restored on exit

    for a, b in zip(full[:3], compact[:3], strict=True):
        torch.testing.assert_close(a, b)
    assert full[3].keys() == compact[3].keys() and full[3]
    for name, grad in full[3].items():
        torch.testing.assert_close(grad, compact[3][name], msg=name)


def test_the_patch_is_restored_when_training_raises() -> None:
    original = trl_utils._use_triton
    with pytest.raises(RuntimeError, match="killed"), labelled_positions_only():
        assert trl_utils._use_triton(torch.device("cpu")) is True
        raise RuntimeError("killed")
    assert trl_utils._use_triton is original
