"""Unit checks of the scale-out paths that need neither vLLM nor a second process: which sampling
backend ``make_backend`` picks, rank-scoped fault injection, single-process ``shard=True``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfrat_eval.generation import factory
from selfrat_eval.generation.base import DEFAULT_SAMPLING, Sample, SamplingConfig
from selfrat_eval.training import faults, sampling
from selfrat_eval.training.config import ConfigError, TrainConfig


class FakeVLLM:
    name = "vllm"

    def __init__(self, model, **kwargs):
        self.model, self.kwargs = model, kwargs


def _cfg(backend: str) -> TrainConfig:
    return TrainConfig.from_dict({"model": {"name_or_path": "m", "dtype": "float32"}, "use_cpu": True,
                                  "sampling": {"backend": backend}})  # fmt: skip


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch):
    import selfrat_eval.generation.vllm as vllm_mod

    monkeypatch.setattr(vllm_mod, "VLLMBackend", FakeVLLM)
    monkeypatch.setattr(factory, "vllm_available", lambda: True)
    hf_built = []
    import selfrat_eval.generation.hf as hf_mod

    monkeypatch.setattr(hf_mod, "HFBackend", lambda *a, **k: hf_built.append((a, k)) or "hf")
    return hf_built


def test_auto_uses_the_cpu_build_of_vllm_on_cpu(fake_vllm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "vllm_cpu_build", lambda: True)
    b = sampling.make_backend("dir", _cfg("auto"))
    assert isinstance(b, FakeVLLM) and b.kwargs["dtype"] == "float32"
    assert sampling.make_backend("dir", _cfg("auto"), gguf_file="x.gguf") == "hf"  # GGUF: transformers
    assert sampling.make_backend("dir", _cfg("hf")) == "hf"
    monkeypatch.setattr(factory, "vllm_cpu_build", lambda: False)  # a GPU build on a CPU run
    assert sampling.make_backend("dir", _cfg("auto")) == "hf"
    assert isinstance(sampling.make_backend("dir", _cfg("vllm")), FakeVLLM)  # asked for: tried


def test_vllm_refused_under_multi_process_launch(fake_vllm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "vllm_cpu_build", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    import selfrat_eval.training.distributed as dist

    monkeypatch.setattr(dist, "local_device", lambda: None)
    with pytest.raises(ConfigError, match="multi-process launch"):
        sampling.make_backend("dir", _cfg("vllm"))
    assert sampling.make_backend("dir", _cfg("auto")) == "hf"
    # the pipeline refuses before its first stage, unless it stops before sampling or has none left
    with pytest.raises(ConfigError, match="pending: iter1/sampling"):
        sampling.check_sampling_launch(_cfg("vllm"), ["iter1/sampling"], None)
    sampling.check_sampling_launch(_cfg("vllm"), ["iter1/sampling"], "sft")
    sampling.check_sampling_launch(_cfg("vllm"), [], None)
    sampling.check_sampling_launch(_cfg("auto"), ["iter1/sampling"], None)


def test_rank_scoped_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV, "sample:2@1,dpo:3")
    monkeypatch.setenv("RANK", "0")
    assert faults.fault_at("sample") is None and faults.fault_at("dpo") == 3
    monkeypatch.setenv("RANK", "1")
    assert faults.fault_at("sample") == 2
    with pytest.raises(faults.InjectedFault):
        faults.check("sample", 2)
    faults.check("sample", 1)


class CountingBackend:
    name = "fake"

    def __init__(self) -> None:
        self.seeds: list[int] = []
        self.closed = False

    def generate(self, prompts, *, n=1, sampling=DEFAULT_SAMPLING, seed=0):
        self.seeds.append(seed)
        return [[Sample(f"ok [RESULT] {1 + (seed + j) % 5}", (-0.5,), "stop") for j in range(n)] for _ in prompts]

    def close(self) -> None:
        self.closed = True


def test_shard_flag_is_a_no_op_in_one_process_and_backend_closed_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = [sampling.Unit(str(i), f"p{i}", {"gold": 3}) for i in range(5)]
    a, b = CountingBackend(), CountingBackend()
    pa = sampling.sample_units(units, a, tmp_path / "a.jsonl", n=2, sampling=SamplingConfig(), seed=7, batch_size=2)
    pb = sampling.sample_units(units, b, tmp_path / "b.jsonl", n=2, sampling=SamplingConfig(), seed=7, batch_size=2,
                               shard=True)  # fmt: skip
    assert pa.read_text() == pb.read_text() and a.seeds == b.seeds
    assert [json.loads(line)["batch"] for line in pa.read_text().splitlines()] == [0, 0, 1, 1, 2]
    built: list[CountingBackend] = []

    def factory() -> CountingBackend:
        built.append(CountingBackend())
        return built[-1]

    monkeypatch.setenv(faults.ENV, "sample:1")
    with pytest.raises(faults.InjectedFault):
        sampling.sample_units(units, factory, tmp_path / "c.jsonl", n=2, sampling=SamplingConfig(), seed=7, batch_size=2)
    assert built and built[0].closed  # a failed stage still releases the engine it built


def test_planned_stages_name_what_stop_after_accepts() -> None:
    from selfrat_eval.training.pipeline import check_stop_after, planned_stages

    raw = {"model": {"name_or_path": "m"}, "iterations": [4, 2], "baselines": ["rejection-sampling"]}
    cfg = TrainConfig.from_dict(raw)
    assert planned_stages(cfg) == [
        "sft", "sft/eval", "iter1/sampling", "rs_sft", "rs_sft/eval", "iter1/curation", "iter1/dpo", "iter1/eval",
        "iter2/sampling", "iter2/curation", "iter2/dpo", "iter2/eval",
    ]  # fmt: skip
    rs = TrainConfig.from_dict({**raw, "method": "rejection-sampling", "baselines": [], "sft": {"enabled": False}})
    assert planned_stages(rs)[:4] == ["base/eval", "iter1/sampling", "iter1/rs_sft", "iter1/eval"]
    gated = TrainConfig.from_dict({**raw, "method": "rejection-sampling", "baselines": [], "sft": {"enabled": False},
                                   "validation": {"size": 10}})
    assert planned_stages(gated)[:5] == ["base/eval", "base/validation", "iter1/sampling", "iter1/rs_sft", "iter1/validation"]
    sft_only = TrainConfig.from_dict({**raw, "method": "sft-only", "baselines": [], "validation": {"size": 10}})
    assert planned_stages(sft_only) == ["sft", "sft/eval"]  # no iteration, nothing to gate
    check_stop_after("iter2/dpo", cfg)
    for bad in ("iter3/dpo", "dpo", "iter1/rs_sft"):
        with pytest.raises(ConfigError, match="not a stage of this run"):
            check_stop_after(bad, cfg)
