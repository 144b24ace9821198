"""vLLM backend: pure conversion code with fake vLLM objects (the engine: tests/test_vllm.py)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import pytest

from selfrat_eval.generation import BackendError, SamplingConfig
from selfrat_eval.generation.base import GREEDY
from selfrat_eval.generation.vllm import sample_from_vllm_output, samples_from_vllm, sampling_params_kwargs

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@dataclass
class FakeLogprob:
    logprob: float
    rank: int = 1


@dataclass
class FakeCompletion:
    index: int
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, Any]] | None
    finish_reason: str = "stop"


@dataclass
class FakeRequest:
    outputs: list[FakeCompletion] = field(default_factory=list)


EOS = 2


def test_stop_token_dropped_from_logprobs() -> None:
    c = FakeCompletion(
        0,
        "ok [RESULT] 4",
        [10, 11, EOS],
        [{10: FakeLogprob(-0.5)}, {11: FakeLogprob(-1.0)}, {EOS: FakeLogprob(-0.1)}],
    )
    s = sample_from_vllm_output(c, [EOS])
    assert s.text == "ok [RESULT] 4" and s.token_logprobs == (-0.5, -1.0) and s.finish_reason == "stop"
    # a length-stopped sample keeps every token
    c2 = FakeCompletion(0, "x", [10, EOS], [{10: -0.5}, {EOS: -0.25}], finish_reason="length")
    assert sample_from_vllm_output(c2, [EOS]).token_logprobs == (-0.5, -0.25)
    c3 = FakeCompletion(0, "x", [10], None)
    assert sample_from_vllm_output(c3, [EOS]).token_logprobs is None


def test_request_outputs_in_index_order_and_count_checked() -> None:
    req = FakeRequest([FakeCompletion(1, "b", [5], [{5: -2.0}]), FakeCompletion(0, "a", [4], [{4: -1.0}])])
    out = samples_from_vllm([req], n=2, stop_token_ids=[EOS])
    assert [s.text for s in out[0]] == ["a", "b"]
    with pytest.raises(BackendError, match="expected 3"):
        samples_from_vllm([req], n=3)


def test_sampling_params_kwargs() -> None:
    kw = sampling_params_kwargs(SamplingConfig(), n=8, seed=3, logprobs=True)
    assert kw == {
        "n": 8,
        "seed": 3,
        "max_tokens": 1024,
        "repetition_penalty": 1.03,
        "temperature": 1.0,
        "top_p": 0.9,
        "top_k": -1,
        "logprobs": 0,
    }
    greedy = sampling_params_kwargs(GREEDY, n=1, seed=0, logprobs=False)
    assert greedy["temperature"] == 0.0 and greedy["top_p"] == 1.0 and "logprobs" not in greedy


@pytest.mark.skipif(HAS_VLLM, reason="vLLM installed: the missing-dependency message is not reachable")
def test_missing_vllm_is_a_clear_error() -> None:
    from selfrat_eval.generation import load_backend

    with pytest.raises(BackendError, match="pip install 'selfrat-eval\\[vllm\\]'"):
        load_backend("vllm", "some/model")


class FakeTokenizer:
    def decode(self, ids):
        return {1: " 4", 2: "4", 3: " 5", 4: " 4"}[ids[0]]


def test_top_logprobs_from_vllm_merges_same_text() -> None:
    import math

    from selfrat_eval.generation.vllm import top_logprobs_from_vllm

    entry = {1: FakeLogprob(math.log(0.5)), 2: FakeLogprob(math.log(0.2)), 3: FakeLogprob(math.log(0.1)),
             4: FakeLogprob(math.log(0.05))}
    req = FakeRequest([FakeCompletion(0, " 4", [1], [entry], "length")])
    got = top_logprobs_from_vllm(req, FakeTokenizer(), k=3)
    assert list(got) == [" 4", "4", " 5"]  # id 4 is outside the top 3
    assert math.exp(got[" 4"]) == pytest.approx(0.5) and math.exp(got[" 5"]) == pytest.approx(0.1)
    got4 = top_logprobs_from_vllm(req, FakeTokenizer(), k=4)
    assert math.exp(got4[" 4"]) == pytest.approx(0.55)  # ids 1 and 4 decode alike: probabilities add
    with pytest.raises(BackendError, match="no log-probs"):
        top_logprobs_from_vllm(FakeRequest([FakeCompletion(0, "", [], None)]), FakeTokenizer(), k=3)


# The engine itself runs in tests/test_vllm.py (make test-vllm).


def test_stop_ids_include_the_generation_configs_eos_ids() -> None:
    """vLLM stops on the generation config's EOS ids too (Llama 3.1 instruct: 128001, 128008,
    128009) and keeps the token in ``token_ids``; each one is stripped like the tokenizer's EOS."""
    from types import SimpleNamespace

    from selfrat_eval.generation.vllm import VLLMBackend

    def backend(generation: Any) -> Any:
        obj = object.__new__(VLLMBackend)
        model_config = SimpleNamespace(try_get_generation_config=generation)
        obj.llm = SimpleNamespace(llm_engine=SimpleNamespace(model_config=model_config))
        obj.tokenizer = SimpleNamespace(eos_token_id=128009)
        return obj

    llama = backend(lambda: {"eos_token_id": [128001, 128008, 128009]})
    assert llama._stop_ids() == [128001, 128008, 128009]
    c = FakeCompletion(0, "ok [RESULT] 4", [10, 128008], [{10: FakeLogprob(-0.5)}, {128008: FakeLogprob(-0.1)}])
    assert sample_from_vllm_output(c, llama._stop_ids()).token_logprobs == (-0.5,)

    def broken() -> dict:
        raise AttributeError("no generation config in this vLLM")

    assert backend(broken)._stop_ids() == [128009]
    assert backend(lambda: None)._stop_ids() == [128009]


def test_adapter_rank_sets_vllms_max_lora_rank(tmp_path) -> None:
    import json

    from selfrat_eval.generation.vllm import _adapter_rank

    def adapter(r: Any) -> Any:
        d = tmp_path / f"r{r}"
        d.mkdir()
        (d / "adapter_config.json").write_text(json.dumps({"r": r}))
        return d

    assert _adapter_rank(adapter(8)) == 16  # vLLM's default already covers it
    assert _adapter_rank(adapter(64)) == 64  # the recipes' rank: refused at the default 16
    assert _adapter_rank(adapter(24)) == 32  # rounded up to a value vLLM accepts
    assert _adapter_rank(tmp_path / "missing") == 16


def test_numerics_name_the_engines_dtype_even_when_the_layout_differs() -> None:
    """The generation cache keys a vLLM judge by its dtype; a vLLM without ``llm_engine`` must not
    crash the key, the requested dtype names it then."""
    from types import SimpleNamespace

    from selfrat_eval.generation.vllm import VLLMBackend

    obj = object.__new__(VLLMBackend)
    obj._dtype = "auto"
    obj.llm = SimpleNamespace(llm_engine=SimpleNamespace(model_config=SimpleNamespace(dtype="torch.bfloat16")))
    assert obj.numerics.startswith("vllm:bfloat16:")
    obj.llm = SimpleNamespace()
    assert obj.numerics.startswith("vllm:auto:")


def test_a_dead_engine_core_is_a_backend_error_that_says_how_to_resume() -> None:
    """vLLM kills its engine core when one step outlasts VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS (a
    paused process does); the caller gets a BackendError naming the cause and the resume, other
    errors pass through unchanged."""
    from types import SimpleNamespace

    from selfrat_eval.generation.vllm import VLLMBackend

    class EngineDeadError(Exception):  # vLLM's name; its module differs across versions
        pass

    def backend(error: Exception) -> Any:
        obj = object.__new__(VLLMBackend)

        def generate(*args: Any, **kwargs: Any) -> Any:
            raise error

        obj.llm = SimpleNamespace(generate=generate)
        obj._lora = None
        return obj

    with pytest.raises(BackendError, match="re-run the same command to resume") as info:
        backend(EngineDeadError("EngineCore encountered an issue"))._run([{"prompt_token_ids": [1]}], None)
    assert "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS" in str(info.value)
    assert isinstance(info.value.__cause__, EngineDeadError)
    with pytest.raises(ValueError, match="bad prompt"):
        backend(ValueError("bad prompt"))._run([], None)
