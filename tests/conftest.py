"""Shared fixtures: the ../shared/data folder (tests skip cleanly without it) and a tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SELFRAT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
BIGGEN_TEST = SHARED_DATA / "biggen-bench" / "biggen_bench_test.jsonl"
REWARDBENCH_CHAT = SHARED_DATA / "reward-bench" / "chat_and_chat_hard.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def biggen_test_file() -> Path:
    return _require(BIGGEN_TEST)


@pytest.fixture
def rewardbench_chat_file() -> Path:
    return _require(REWARDBENCH_CHAT)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a locally trained tokenizer (random weights), built once per session."""
    from selfrat_eval.tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), seed=0)


@pytest.fixture(scope="session")
def tiny_vllm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with one 64-dimensional attention head: vLLM's CPU attention kernels support
    head_dim 32..256, not the default tiny model's 16."""
    from selfrat_eval.tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-vllm"), hidden_size=64, num_heads=1, seed=0)
