"""vLLM backend: pure conversion code with fake vLLM objects; the engine itself behind a skip."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
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


@pytest.mark.slow
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM not installed")
def test_vllm_engine_on_tiny_model(tiny_model_dir: Path) -> None:  # pragma: no cover - needs vLLM
    from selfrat_eval.generation import load_backend

    backend = load_backend("vllm", str(tiny_model_dir), gpu_memory_utilization=0.3, max_model_len=1024)
    sampling = SamplingConfig(max_new_tokens=8)
    a = backend.generate(["abc", [{"role": "user", "content": "hi"}]], n=3, sampling=sampling, seed=1)
    b = backend.generate(["abc", [{"role": "user", "content": "hi"}]], n=3, sampling=sampling, seed=1)
    assert [len(g) for g in a] == [3, 3] and a == b
    assert all(s.token_logprobs is not None for g in a for s in g)
