"""End-to-end training on a tiny local Llama: SFT -> sample -> curate -> DPO -> iteration 2,
reference-model handling across iterations (full fine-tuning and LoRA), DPO margin on held-out
pairs, resume after a kill during sampling and during DPO, the CLI and the baselines."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers_benchmarks import benchmark_script
from helpers_training import feedback_row, tiny_config, write_bench, write_collection

pytest.importorskip("trl")
pytest.importorskip("peft")

from selfrat_eval.demo.report import run_predictions  # noqa: E402
from selfrat_eval.formats import format_judgment  # noqa: E402
from selfrat_eval.tiny_model import build_tiny_llama  # noqa: E402
from selfrat_eval.training import faults  # noqa: E402
from selfrat_eval.training.config import (
    DataConfig,  # noqa: E402
    TrainConfig,  # noqa: E402
)
from selfrat_eval.training.data import judge_messages, load_pool, read_jsonl  # noqa: E402
from selfrat_eval.training.pipeline import run_pipeline  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    model = build_tiny_llama(tmp / "tiny", seed=0)
    data = write_collection(tmp / "fc.jsonl", 40)
    bench = write_bench(tmp / "fb.jsonl", [feedback_row(3, 4), feedback_row(7, 3)])
    return {"tmp": tmp, "model": model, "data": data, "bench": bench}


@pytest.fixture(scope="module")
def full_run(env):
    cfg = TrainConfig.from_dict(tiny_config(env["tmp"] / "full", env["model"], env["data"], env["bench"]))
    summary = run_pipeline(cfg)
    return Path(cfg.output_dir), summary


def _model(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype="float32")


def _probe_logps(model, probe):
    from selfrat_eval.training.dpo import sequence_logp

    return [
        sequence_logp(model, p, c) for p, c in zip(probe["prompt_ids"], probe["chosen_ids"], strict=True)
    ] + [sequence_logp(model, p, r) for p, r in zip(probe["prompt_ids"], probe["rejected_ids"], strict=True)]


def _assert_reference_is(probe_path: Path, expected: Path, others: list[Path]):
    """trl's reference log-probs (recorded before training) equal the expected judge's, not others'."""
    probe = json.loads(probe_path.read_text())
    ref = probe["ref_chosen_logps"] + probe["ref_rejected_logps"]
    want = _probe_logps(_model(expected), probe)
    assert max(abs(a - b) for a, b in zip(ref, want, strict=True)) < 1e-3, (ref, want)
    for other in others:
        got = _probe_logps(_model(other), probe)
        assert max(abs(a - b) for a, b in zip(ref, got, strict=True)) > 1e-2, f"reference also matches {other}"


def test_end_to_end_two_iterations(full_run):
    out, summary = full_run
    manifest = json.loads((out / "manifest.json").read_text())
    stages = manifest["stages"]
    for name in ("sft", "sft/eval", "iter1/sampling", "iter1/curation", "iter1/dpo", "iter1/eval", "iter2/dpo", "iter2/eval"):
        assert stages[name]["status"] == "done", name
    assert [row["judge"] for row in summary["curve"]] == ["sft", "iter1", "iter2"]
    assert summary["final_model"] == str(out / "iter2" / "dpo" / "model")
    assert summary["judges"] == {"sft": str(out / "sft/pointwise/model"), "iter1": str(out / "iter1/dpo/model"),
                                 "iter2": str(out / "iter2/dpo/model")}
    splits = json.loads((out / "data" / "splits.json").read_text())
    assert splits["dropped"] == {"contaminated": 2} and len(splits["heldout_ids"]) == 6
    assert [len(x) for x in splits["iteration_ids"]] == [12, 8]
    assert not set(splits["iteration_ids"][0]) & set(splits["iteration_ids"][1])
    assert not set(splits["heldout_ids"]) & set(splits["sft_ids"])
    for t, n_inputs in ((1, 12), (2, 8)):
        it = out / f"iter{t}"
        samples = list(read_jsonl(it / "samples.jsonl"))
        assert len(samples) == n_inputs and all(len(r["samples"]) == 6 for r in samples)
        pairs = list(read_jsonl(it / "pairs.jsonl"))
        held = list(read_jsonl(it / "heldout_pairs.jsonl"))
        stats = json.loads((it / "curation.json").read_text())
        assert len(pairs) + len(held) == stats["n_pairs"] > 0
        assert stats["parse_rate"] > 0.5  # the seed SFT taught the format
        for p in pairs:
            assert p["chosen_score"] == p["gold"] and abs(p["rejected_score"] - p["gold"]) >= 2
        assert stages[f"iter{t}/dpo"]["reference"] == str(out / ("sft/pointwise" if t == 1 else "iter1/dpo") / "model")
        results = json.loads((it / "eval" / "greedy" / "results.json").read_text())
        assert results["benchmark"] == "feedback_bench" and results["metrics"]["n"] == 6
        assert results["data"]["source"].endswith("data/heldout.jsonl") and (it / "eval" / "greedy" / "report.html").is_file()
    report = (out / "report.md").read_text()
    assert report.count("| iter1 |") == report.count("| iter2 |") == 2  # a metric row and a curation row each
    assert "pairs before balance" in report and "| pearson [95% CI] |" in report


def test_heldout_evaluation_goes_through_the_runner_and_its_cache(full_run):
    """The held-out split is written once in the Feedback Bench layout; every judge is a
    feedback_bench run of the runner, cached under the output dir, so a resumed pipeline whose
    evaluation stage was lost regenerates nothing and gets the same results."""
    from selfrat_eval.protocols import BenchmarkOptions, get_protocol

    out, summary = full_run
    splits = json.loads((out / "data" / "splits.json").read_text())
    held = get_protocol("feedback_bench", BenchmarkOptions(data=str(out / "data" / "heldout.jsonl"))).load().items
    assert [it.id for it in held] == splits["heldout_ids"]
    first = json.loads((out / "iter2/eval/greedy/results.json").read_text())
    assert first["generation"]["cache_misses"] == 6 and first["generation"]["cache_file"].startswith(str(out / "cache"))
    assert summary["curve"][-1]["pearson"] == pytest.approx(first["metrics"]["pearson"], nan_ok=True)
    # lose the evaluation stage (as a kill during it would) and run the same config again
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["stages"]["iter2/eval"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "iter2/eval/greedy/results.json").unlink()
    run_pipeline(TrainConfig.from_dict(yaml.safe_load((out / "config.yaml").read_text())))
    again = json.loads((out / "iter2/eval/greedy/results.json").read_text())
    assert again["generation"]["cache_misses"] == 0 and again["generation"]["cache_hits"] == 6
    assert again["items"] == first["items"] and again["metrics"] == first["metrics"]


def test_rejection_sampling_baseline_beside_sre(env, full_run):
    """baselines: [rejection-sampling] trains RS-SFT of the seed on iteration 1's samples (label
    balanced) and evaluates it like every judge."""
    sft_model = full_run[0] / "sft/pointwise/model"
    raw = tiny_config(env["tmp"] / "rs-baseline", sft_model, env["data"], env["bench"])
    raw["sft"]["enabled"] = False
    raw["iterations"] = [12]
    raw["baselines"] = ["rejection-sampling"]
    raw["rs_sft"] = {"learning_rate": 1e-3, "epochs": 1, "batch_size": 4, "gradient_accumulation_steps": 1,
                     "per_input": 2, "save_steps": 1000}
    raw["curation"]["balance"] = "cap"
    raw["dpo"]["heldout_pairs"] = 0
    cfg = TrainConfig.from_dict(raw)
    summary = run_pipeline(cfg)
    out = Path(cfg.output_dir)
    assert summary["judges"]["rs_sft"] == str(out / "rs_sft/model") and (out / "rs_sft/model/config.json").is_file()
    assert [r["judge"] for r in summary["curve"]] == ["base", "rs_sft", "iter1"]
    stage = json.loads((out / "manifest.json").read_text())["stages"]["rs_sft"]
    samples = list(read_jsonl(out / "iter1/samples.jsonl"))
    hits = sum(min(2, len({s["rationale"] for s in r["samples"] if s["score"] == r["gold"]})) for r in samples)
    assert stage["n_examples_before_balance"] == hits > 0 and 0 < stage["n_examples"] <= hits
    assert (out / "rs_sft/eval/greedy/results.json").is_file()


def _gated_run(env, full_run, name: str, min_gain: float, iterations: list[int], draws: int = 1) -> tuple[Path, dict]:
    sft_model = full_run[0] / "sft/pointwise/model"
    raw = tiny_config(env["tmp"] / name, sft_model, env["data"], env["bench"])
    raw["sft"]["enabled"] = False
    raw["iterations"] = iterations
    raw["dpo"]["heldout_pairs"] = 0
    raw["validation"] = {"size": 4, "min_gain": min_gain, "draws": draws}
    cfg = TrainConfig.from_dict(raw)
    return Path(cfg.output_dir), run_pipeline(cfg)


def test_validation_gate_rejects_and_the_next_iteration_trains_the_incumbent(env, full_run):
    """min_gain 10 rejects every trained judge: iteration t's judge is then the seed itself (its
    held-out results, from the cache), and iteration 2 samples from and trains the seed, not judge 1.
    The validation items are training items no stage uses."""
    out, summary = _gated_run(env, full_run, "gate-reject", 10.0, [12, 8])
    seed = str(full_run[0] / "sft/pointwise/model")
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    for name in ("base/validation", "iter1/validation", "iter2/validation"):
        assert stages[name]["status"] == "done", name
    splits = json.loads((out / "data" / "splits.json").read_text())
    val_ids = splits["validation_ids"]
    assert len(val_ids) == 4 and [r["__index_level_0__"] for r in read_jsonl(out / "data/validation.jsonl")] == val_ids
    assert not set(val_ids) & (set(splits["heldout_ids"]) | {i for s in splits["iteration_ids"] for i in s})
    # the candidate was judged on the validation items, then rejected
    cand = json.loads((out / "iter1/validation/greedy/results.json").read_text())
    assert cand["model"]["judge"] == str(out / "iter1/dpo/model") and cand["metrics"]["n"] == 4
    gate = summary["validation_gate"]
    assert [g.get("kept") for g in gate] == [None, False, False] and gate[0]["judge"] == "base"
    assert gate[1]["candidate_pearson"] == stages["iter1/validation"]["pearson"]
    assert summary["judges"] == {"base": seed, "iter1": seed, "iter2": seed} and summary["final_model"] == seed
    assert stages["iter2/dpo"]["reference"] == seed  # not iter1/dpo/model
    base_eval = json.loads((out / "base/eval/greedy/results.json").read_text())
    it1_eval = json.loads((out / "iter1/eval/greedy/results.json").read_text())
    assert it1_eval["items"] == base_eval["items"] and it1_eval["generation"]["cache_misses"] == 0
    report = (out / "report.md").read_text()
    assert "## Validation gate" in report and report.count("| rejected | base |") == 2


def test_validation_gate_keeps_a_judge_that_clears_it(env, full_run):
    out, summary = _gated_run(env, full_run, "gate-keep", -10.0, [12])
    assert summary["judges"]["iter1"] == str(out / "iter1/dpo/model")
    assert [g.get("kept") for g in summary["validation_gate"]] == [None, True]
    assert "| kept | iter1 |" in (out / "report.md").read_text()


def test_an_iteration_with_nothing_to_train_on_keeps_its_judge_and_says_so(env, full_run, monkeypatch):
    """No preference pairs (min_gap beyond the scale) and no on-gold judgment for RS-SFT: the run
    finishes instead of crashing after its sampling; each empty stage is recorded as skipped with
    why, the gate logs the skip, the iteration's judge is the one it started from (judged from the
    cache), and a rerun trains nothing."""
    from selfrat_eval.training import baselines

    seed = str(full_run[0] / "sft/pointwise/model")
    real_rs = baselines.rs_sft_examples
    monkeypatch.setattr(baselines, "rs_sft_examples",
                        lambda cfg, records, t: ([], {**real_rs(cfg, records, t)[1], "n_examples": 0}))
    raw = tiny_config(env["tmp"] / "no-pairs", seed, env["data"], env["bench"], **{
        "sft.enabled": False, "iterations": [12], "dpo.heldout_pairs": 0, "curation.min_gap": 5,
        "baselines": ["rejection-sampling"], "validation": {"size": 4, "min_gain": -10.0}})
    cfg = TrainConfig.from_dict(raw)
    summary = run_pipeline(cfg)
    out = Path(cfg.output_dir)
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["iter1/curation"]["n_pairs"] == 0 and stages["iter1/sampling"]["status"] == "done"
    assert "no preference pairs" in stages["iter1/dpo"]["skipped"] and stages["iter1/dpo"]["n_pairs"] == 0
    assert "nothing to SFT on" in stages["rs_sft"]["skipped"] and stages["rs_sft"]["n_examples"] == 0
    assert not (out / "iter1/dpo/model").exists() and not (out / "rs_sft/model").exists()
    assert summary["judges"] == {"base": seed, "rs_sft": seed, "iter1": seed} and summary["final_model"] == seed
    gate = summary["validation_gate"][1]
    assert gate["skipped"] and gate["kept"] is False and gate["judge"] == "base" and "iter1/validation" not in stages
    base_eval = json.loads((out / "base/eval/greedy/results.json").read_text())
    it1_eval = json.loads((out / "iter1/eval/greedy/results.json").read_text())
    assert it1_eval["items"] == base_eval["items"] and it1_eval["generation"]["cache_misses"] == 0
    report = (out / "report.md").read_text()
    assert "| skipped: nothing to train on | base |" in report and report.count("**skipped**") == 2
    assert run_pipeline(cfg)["judges"] == summary["judges"]  # resumed: every stage done, nothing retrained

    # the rejection-sampling method: its iteration's RS-SFT had nothing to train on
    raw["output_dir"] = str(env["tmp"] / "no-pairs-rs" / "run")
    raw["method"], raw["baselines"] = "rejection-sampling", []
    cfg = TrainConfig.from_dict(raw)
    summary = run_pipeline(cfg)
    stages = json.loads((Path(cfg.output_dir) / "manifest.json").read_text())["stages"]
    assert "nothing to SFT on" in stages["iter1/rs_sft"]["skipped"] and "iter1/dpo" not in stages
    assert summary["judges"]["iter1"] == seed and summary["validation_gate"][1]["skipped"]


def test_validation_draws_train_each_draw_on_the_same_pairs_and_keep_the_best(env, full_run):
    """validation.draws 2: a second DPO draw on iteration 1's pairs (another seed, other weights),
    both validated; the gate weighs the one with the higher validation Pearson."""
    import torch
    from safetensors.torch import load_file

    out, summary = _gated_run(env, full_run, "gate-draws", -10.0, [12], draws=2)
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    first, second = stages["iter1/dpo"], stages["iter1/dpo-draw1"]
    assert (first["draw"], second["draw"]) == (0, 1) and first["reference"] == second["reference"]
    assert second["model"] == str(out / "iter1/dpo-draw1/model")
    w0, w1 = (load_file(Path(s["model"]) / "model.safetensors") for s in (first, second))
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)  # two trainings, not one copied
    val = {n: stages[f"{n}/validation"]["pearson"] for n in ("iter1", "iter1/dpo-draw1")}
    cand = json.loads((out / "iter1/dpo-draw1/validation/greedy/results.json").read_text())
    assert cand["model"]["judge"] == second["model"] and cand["metrics"]["n"] == 4
    gate = summary["validation_gate"][1]
    assert [(d["candidate"], d["pearson"]) for d in gate["draws"]] == list(val.items())
    rank = {n: (0.0 if p is None or p != p else p) for n, p in val.items()}
    best = "iter1/dpo-draw1" if rank["iter1/dpo-draw1"] > rank["iter1"] else "iter1"
    assert gate["candidate"] == best and gate["kept"] and gate["judge"] == best
    assert summary["judges"]["iter1"] == stages["iter1/dpo" if best == "iter1" else "iter1/dpo-draw1"]["model"]
    it1 = json.loads((out / "iter1/eval/greedy/results.json").read_text())
    assert it1["model"]["judge"] == summary["judges"]["iter1"]
    assert "(best of 2 DPO draws: `iter1` " in (out / "report.md").read_text()
    # benchmarks/eval_draws.py judges every draw on the held-out split; the kept one from the cache
    rows = benchmark_script("eval_draws").draw_rows(out)
    assert [(r["name"], r["validation_pearson"], r["picked"]) for r in rows] == [
        (n, p, n == best) for n, p in val.items()]
    kept = next(r for r in rows if r["picked"])
    assert run_predictions(Path(kept["results"]))["pred"] == run_predictions(out / "iter1/eval/greedy/results.json")["pred"]
    assert json.loads(Path(kept["results"]).read_text())["generation"]["cache_misses"] == 0
    preds = run_predictions(Path(kept["results"]))["pred"]
    parsed = [p for p in preds if p is not None]
    assert kept["unparsed"] == len(preds) - len(parsed)
    assert kept["pred_mean"] == (pytest.approx(sum(parsed) / len(parsed)) if parsed else None)
    # --soup: the two draws' weight average, judged on both splits
    (soup,) = benchmark_script("eval_draws").soup_rows(out, rows)
    assert soup["name"] == "iter1/dpo-soup" and soup["of"] == list(val)
    ws = load_file(out / "iter1/dpo-soup/model/model.safetensors")
    assert ws.keys() == w0.keys() and all(torch.allclose(ws[k], (w0[k] + w1[k]) / 2, atol=1e-6) for k in ws)
    for split, draw_results in (("validation", cand), ("heldout", json.loads(Path(kept["results"]).read_text()))):
        res = json.loads((out / f"iter1/dpo-soup/{split}/greedy/results.json").read_text())
        assert res["model"]["judge"] == str(out / "iter1/dpo-soup/model")
        assert res["metrics"]["n"] == draw_results["metrics"]["n"]
        assert res["metrics"]["pearson"] == soup[f"{split}_pearson"]


def test_continue_run_trains_from_the_kept_judge_on_the_items_the_run_left(env, full_run, tmp_path):
    """benchmarks/continue_run.py: a finished run goes on by an iteration as a run of its own that
    starts from the source's gate-kept judge (also the DPO reference), samples only training items
    the source left unused and judges the same held-out items; compare_runs.py numbers its
    iterations after the source's."""
    src, summary = _gated_run(env, full_run, "gate-keep", -10.0, [12])
    cont = benchmark_script("continue_run")
    out, cfg_path = tmp_path / "cont", tmp_path / "cont.yaml"
    args = [str(src), "--output-dir", str(out), "--iterations", "8", "--config-out", str(cfg_path)]
    assert cont.main(args) == 0
    with pytest.raises(SystemExit, match="exists"):
        cont.main(args)
    cfg = TrainConfig.load(cfg_path)
    assert cfg.model.name_or_path == summary["final_model"] == summary["judges"]["iter1"]
    assert not cfg.sft.enabled and cfg.iterations == [8] and cfg.seed == TrainConfig.load(src / "config.yaml").seed
    splits = json.loads((src / "data/splits.json").read_text())
    used = set(splits["iteration_ids"][0]) | set(splits["heldout_ids"])  # no SFT in the source: its SFT share is free
    left = {str(r["__index_level_0__"]) for r in read_jsonl(out / "source-unused.jsonl")}
    assert len(left) == 40 - len(used) and not left & used

    cont_summary = run_pipeline(cfg)
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["iter1/dpo"]["reference"] == summary["final_model"]
    new_splits = json.loads((out / "data/splits.json").read_text())
    assert set(new_splits["iteration_ids"][0]) <= left and new_splits["heldout_ids"] == splits["heldout_ids"]
    assert (out / "data/heldout.jsonl").read_bytes() == (src / "data/heldout.jsonl").read_bytes()
    # the continuation's seed is the source's final judge on the same items: the same judgments
    assert (run_predictions(out / "base/eval/greedy/results.json")["pred"]
            == run_predictions(src / "iter1/eval/greedy/results.json")["pred"])

    cmp = benchmark_script("compare_runs")
    assert cmp.run_judges(src) == {"sft": summary["judges"]["base"], "iter1": summary["judges"]["iter1"]}
    assert cmp.run_judges(out, 1) == {"iter2": cont_summary["judges"]["iter1"]}
    shifted = cmp.run_stages(out, 1)
    assert shifted["iter2/dpo"] == stages["iter1/dpo"] and not {"iter1/dpo", "base/eval"} & set(shifted)
    with pytest.raises(SystemExit, match="judge 'sft'"):  # without the offset both claim the comparison's seed
        cmp.merge([(src, cmp.run_judges(src)), (out, cmp.run_judges(out))], "judge")


def test_average_weights_is_the_mean_of_every_tensor_and_refuses_mismatched_models(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    average = benchmark_script("eval_draws").average_weights
    models = []
    for i, scale in enumerate((1.0, 2.0, 6.0)):
        m = tmp_path / f"m{i}"
        m.mkdir()
        save_file({"w": torch.full((2, 3), scale), "h": torch.tensor([scale], dtype=torch.bfloat16)},
                  str(m / "model.safetensors"))
        (m / "config.json").write_text(json.dumps({"i": i}))
        models.append(m)
    out = average(models, tmp_path / "soup")
    w = load_file(out / "model.safetensors")
    assert torch.equal(w["w"], torch.full((2, 3), 3.0)) and w["h"].dtype == torch.bfloat16 and w["h"].item() == 3.0
    assert json.loads((out / "config.json").read_text()) == {"i": 0}  # the first model's config
    save_file({"w": torch.zeros(2, 3)}, str(models[2] / "model.safetensors"))
    with pytest.raises(ValueError, match="same tensors"):
        average(models, tmp_path / "bad")


def test_draw_agreement_compares_the_pick_with_a_blind_draw_and_ranks_the_draws():
    agreement = benchmark_script("eval_draws").draw_agreement
    draws = [{"validation_pearson": v, "heldout_pearson": h, "picked": p}
             for v, h, p in ((0.6, 0.5, False), (0.4, 0.3, False), (0.7, 0.7, True))]
    a = agreement(draws)
    assert a["n_draws"] == 3 and a["kendall_tau"] == pytest.approx(1.0)
    assert a["picked_minus_mean"] == pytest.approx(0.7 - 0.5) and a["spread"] == pytest.approx(0.4)
    draws[0]["heldout_pearson"], draws[2]["heldout_pearson"] = 0.7, 0.5  # validation picked the wrong one
    a = agreement(draws)
    assert a["picked_minus_mean"] == pytest.approx(0.0) and a["kendall_tau"] == pytest.approx(1 / 3)


def test_full_ft_reference_in_iteration_2_is_judge_1(full_run):
    out, _ = full_run
    sft, j1, j2 = out / "sft/pointwise/model", out / "iter1/dpo/model", out / "iter2/dpo/model"
    _assert_reference_is(out / "iter2/dpo/reference_probe.json", j1, [sft, j2])
    _assert_reference_is(out / "iter1/dpo/reference_probe.json", sft, [j1])


def test_lora_iterations_merge_and_reference_is_previous_judge(env, full_run):
    sft_model = full_run[0] / "sft/pointwise/model"
    raw = tiny_config(env["tmp"] / "lora", sft_model, env["data"], env["bench"])
    raw["sft"]["enabled"] = False
    raw["lora"] = {"enabled": True, "r": 8, "alpha": 16, "dropout": 0.0}
    raw["dpo"].update(learning_rate=3e-3, heldout_pairs=0)
    raw["evaluation"]["enabled"] = False
    cfg = TrainConfig.from_dict(raw)
    run_pipeline(cfg)
    out = Path(cfg.output_dir)
    j1, j2 = out / "iter1/dpo/model", out / "iter2/dpo/model"
    assert (j1 / "config.json").exists() and not (j1 / "adapter_config.json").exists()  # merged, plain
    _assert_reference_is(out / "iter2/dpo/reference_probe.json", j1, [sft_model, j2])


def _level_pairs(env) -> tuple[list[dict], list[dict]]:
    """(24 training, 8 held-out) pairs: "level 4" chosen over "level 1" on the collection's items."""
    items, _ = load_pool(DataConfig(source=str(env["data"]), decontaminate_against=None))
    good = format_judgment("The response meets level 4 of the rubric.", 4)
    bad = format_judgment("The response meets level 1 of the rubric.", 1)
    pairs = [
        {"key": it.id, "prompt": judge_messages(it), "chosen": [{"role": "assistant", "content": good}],
         "rejected": [{"role": "assistant", "content": bad}]}
        for it in items
    ]
    return pairs[:24], pairs[24:32]


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_dpo_raises_margin_on_heldout_pairs(env, full_run, lora):
    from transformers import AutoTokenizer

    from selfrat_eval.training.dpo import pair_margins, train_dpo
    from selfrat_eval.training.modeling import ModelRef

    sft_model = full_run[0] / "sft/pointwise/model"
    train, held = _level_pairs(env)
    raw = tiny_config(env["tmp"] / f"margin-{lora}", sft_model, env["data"], None)
    raw["lora"] = {"enabled": lora, "r": 8, "alpha": 16, "dropout": 0.0}
    raw["dpo"].update(learning_rate=2e-2 if lora else 1e-3, save_steps=100)
    cfg = TrainConfig.from_dict(raw)
    tok = AutoTokenizer.from_pretrained(sft_model)
    before = pair_margins(_model(sft_model), tok, held)
    after_dir = train_dpo(train, ModelRef(str(sft_model)), Path(cfg.output_dir) / "dpo", cfg, seed=0)
    after = pair_margins(_model(after_dir), tok, held)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean(after) > mean(before) + 1.0, (before, after)
    assert all(a > b for a, b in zip(after, before, strict=True))


def test_nll_term_is_weighed_per_token_and_raises_the_chosen_judgment(env, full_run):
    """``dpo.nll_alpha`` adds trl's "sft" loss, a mean over the chosen tokens against DPO's sum:
    ``loss_weights.json`` states the per-token ratio from the tokenized lengths, and a heavy NLL
    term lifts the held-out chosen judgments' log-probs above what DPO alone leaves them at."""
    from transformers import AutoTokenizer

    from selfrat_eval.training.dpo import completion_ids, sequence_logp, train_dpo
    from selfrat_eval.training.modeling import ModelRef

    sft_model = full_run[0] / "sft/pointwise/model"
    tok = AutoTokenizer.from_pretrained(sft_model)
    train, held = _level_pairs(env)

    def trained(nll_alpha: float) -> tuple[Path, dict, float]:
        raw = tiny_config(env["tmp"] / f"nll-{nll_alpha}", sft_model, env["data"], None)
        raw["dpo"].update(learning_rate=1e-3, save_steps=100, nll_alpha=nll_alpha)
        cfg = TrainConfig.from_dict(raw)
        out = Path(cfg.output_dir) / "dpo"
        model_dir = train_dpo(train, ModelRef(str(sft_model)), out, cfg, seed=0)
        return model_dir, json.loads((out / "loss_weights.json").read_text()), cfg.dpo.beta

    def held_chosen_logp(model_dir: Path) -> float:
        model = _model(model_dir)
        logps = [sequence_logp(model, *completion_ids(tok, p["prompt"], p["chosen"])) for p in held]
        return sum(logps) / len(logps)

    dpo_only, w0, _ = trained(0.0)
    with_nll, w, beta = trained(50.0)
    lengths = [len(completion_ids(tok, p["prompt"], p["chosen"])[1]) for p in train]
    assert abs(w["mean_chosen_tokens"] - sum(lengths) / len(lengths)) <= 1  # trl may add an EOS token
    assert w0["dpo_per_token"] == w["dpo_per_token"] == beta / 2
    assert w0["nll_over_dpo"] is None and w0["nll_per_token"] is None
    assert w["nll_over_dpo"] == pytest.approx(50.0 / w["mean_chosen_tokens"] / (beta / 2))
    assert held_chosen_logp(with_nll) > held_chosen_logp(dpo_only) + 0.5


def test_resume_after_kills_gives_identical_pairs(env, full_run, monkeypatch):
    sft_model = full_run[0] / "sft/pointwise/model"

    def cfg_for(name):
        raw = tiny_config(env["tmp"] / name, sft_model, env["data"], env["bench"])
        raw["sft"]["enabled"] = False
        raw["evaluation"]["enabled"] = False
        return TrainConfig.from_dict(raw)

    ref_cfg = cfg_for("uninterrupted")
    run_pipeline(ref_cfg)
    ref = Path(ref_cfg.output_dir)

    cfg = cfg_for("killed")
    out = Path(cfg.output_dir)
    monkeypatch.setenv(faults.ENV, "sample:2")  # killed after 2 of 3 sample batches of iteration 1
    with pytest.raises(faults.InjectedFault):
        run_pipeline(cfg)
    lines = (out / "iter1/samples.jsonl").read_text().splitlines()
    assert len(lines) == 8
    with (out / "iter1/samples.jsonl").open("a") as fh:  # and a torn line from the kill
        fh.write('{"key": "x", "sam')
    monkeypatch.setenv(faults.ENV, "dpo:2")  # killed in DPO right after the step-2 checkpoint
    with pytest.raises(faults.InjectedFault):
        run_pipeline(cfg)
    assert (out / "iter1/dpo/checkpoints/checkpoint-2").is_dir()
    assert not (out / "iter1/dpo/model").exists()
    sampled_at = json.loads((out / "manifest.json").read_text())["stages"]["iter1/sampling"]["finished_at"]
    monkeypatch.delenv(faults.ENV)
    run_pipeline(cfg)
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["iter1/sampling"]["finished_at"] == sampled_at  # not redone
    trainer_state = json.loads((out / "iter1/dpo/checkpoints/checkpoint-4/trainer_state.json").read_text())
    assert trainer_state["global_step"] == 4
    for t in (1, 2):
        for name in ("samples.jsonl", "pairs.jsonl"):
            assert (out / f"iter{t}" / name).read_text() == (ref / f"iter{t}" / name).read_text(), (t, name)
    # a changed config is refused instead of silently mixing runs
    from selfrat_eval.training.config import ConfigError

    changed = cfg_for("killed")
    changed.dpo.beta = 0.5
    with pytest.raises(ConfigError, match="different config"):
        run_pipeline(changed)


def test_cli_baselines_and_dry_run(env, full_run, tmp_path, capsys, monkeypatch):
    from selfrat_eval.cli import main
    from selfrat_eval.training import pipeline

    sft_model = full_run[0] / "sft/pointwise/model"
    raw = tiny_config(tmp_path, sft_model, env["data"], env["bench"])
    raw["sft"]["enabled"] = False
    raw["iterations"] = [12]
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["train", "--config", str(path), "--dry-run", "dpo.beta=0.25"]) == 0
    assert json.loads(capsys.readouterr().out)["dpo"]["beta"] == 0.25
    assert main(["train", "--config", str(path), "--method", "rejection-sampling", "--output-dir", str(tmp_path / "rs")]) == 0
    curve = json.loads((tmp_path / "rs" / "curve.json").read_text())
    assert [r["judge"] for r in curve["curve"]] == ["base", "iter1"]
    assert curve["judges"]["iter1"] == str(tmp_path / "rs/iter1/rs_sft/model")
    assert (tmp_path / "rs/iter1/rs_sft/model/config.json").exists()
    assert json.loads((tmp_path / "rs/manifest.json").read_text())["stages"]["iter1/rs_sft"]["n_examples"] > 0
    rc = main(["train", "--config", str(path), "--method", "sft-only", "--output-dir", str(tmp_path / "sft"),
               "sft.enabled=true", f"model.name_or_path={env['model']}", "sft.max_steps=2"])
    assert rc == 0
    curve = json.loads((tmp_path / "sft" / "curve.json").read_text())
    assert [r["judge"] for r in curve["curve"]] == ["sft"] and not (tmp_path / "sft/iter1").exists()
    assert main(["train", "--config", str(path), "curation.strategy=nope"]) == 2
    # stages run by different launchers on one output_dir: stop after a stage, resume from it
    staged = ["train", "--config", str(path), "--output-dir", str(tmp_path / "staged")]
    capsys.readouterr()
    assert main([*staged, "--stop-after", "iter1/sampling"]) == 0
    stages = json.loads((tmp_path / "staged/manifest.json").read_text())["stages"]
    assert "iter1/sampling" in stages and "iter1/curation" not in stages
    assert "stopped after iter1/sampling" in capsys.readouterr().out
    # curation gets each input's reference rationale, also when resuming from samples on disk
    references: dict = {}

    def spy(records, cfg, **kw):
        references.update(kw["references"])
        return curate(records, cfg, **kw)

    curate = pipeline.curate
    monkeypatch.setattr(pipeline, "curate", spy)
    assert main([*staged, "--stop-after", "iter1/dpo"]) == 0
    sampled = [json.loads(line)["key"] for line in (tmp_path / "staged/iter1/samples.jsonl").read_text().splitlines()]
    assert set(references) == set(sampled) and len(sampled) == 12
    assert all(re.fullmatch(r"The response meets level [1-5] of the rubric\.", ref) for ref in references.values())
    stages = json.loads((tmp_path / "staged/manifest.json").read_text())["stages"]
    assert "iter1/dpo" in stages and "iter1/eval" not in stages
    assert main([*staged, "--stop-after", "iter2/dpo"]) == 2  # one iteration in this run
    assert main([*staged, "--stop-after", "rs_sft"]) == 2  # no RS-SFT baseline in this run
    assert "not a stage of this run" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-m", "selfrat_eval.training", "--config", str(path), "--dry-run"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["iterations"] == [12]
    assert not math.isnan(curve["curve"][0]["parse_rate"])


def test_linear_merge_averages_weights(env, tmp_path):
    import torch

    from selfrat_eval.training.modeling import linear_merge

    other = build_tiny_llama(tmp_path / "other", seed=1)
    cfg = TrainConfig.from_dict({"model": {"name_or_path": str(env["model"]), "dtype": "float32"}, "use_cpu": True})
    out = linear_merge([env["model"], other], [0.75, 0.25], tmp_path / "merged", cfg)
    a, b, m = (_model(p).state_dict() for p in (env["model"], other, out))
    for name in a:
        assert torch.allclose(m[name], 0.75 * a[name] + 0.25 * b[name], atol=1e-6), name


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_lora_merge_rounds_once_and_reports_what_rounding_loses(env, tmp_path, dtype):
    """float32 weights: exactly peft's merge, nothing lost. bfloat16 weights: each layer is merged
    in float32 and rounded once (peft alone would round the update first, then the sum), and the
    share of a small update that rounding loses is written beside the model, not hidden."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from selfrat_eval.training.modeling import save_plain

    def adapted(scale: float):
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(env["model"], dtype=getattr(torch, dtype))
        model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.data.normal_(0.0, scale)
        return model

    tok = AutoTokenizer.from_pretrained(env["model"])
    model = adapted(1e-2)
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    want = (layer.get_base_layer().weight.float() + layer.get_delta_weight("default").float()).to(getattr(torch, dtype))
    out = save_plain(model, tok, tmp_path / "big")
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=getattr(torch, dtype))
    assert torch.equal(merged.model.layers[0].self_attn.q_proj.weight, want)
    lost = json.loads((out / "lora_merge.json").read_text())["lora_update_lost_to_rounding"]
    if dtype == "float32":
        reference = adapted(1e-2).merge_and_unload()
        assert lost == 0.0
        assert all(torch.equal(a, b) for a, b in zip(merged.state_dict().values(), reference.state_dict().values(), strict=True))
    else:
        assert 0.0 < lost < 0.5
        tiny_update = save_plain(adapted(1e-5), tok, tmp_path / "tiny")  # far below a bf16 step
        assert json.loads((tiny_update / "lora_merge.json").read_text())["lora_update_lost_to_rounding"] > 0.5


def test_inference_loads_bypass_a_zero3_config_and_training_loads_keep_it(env, monkeypatch):
    """Under a ZeRO-3 launch the first trainer registers its DeepSpeed config for the whole
    process. Judges loaded for sampling, evaluation, margins or merges must be whole (no
    ``zero.Init``), the training loads still partitioned, and the registration must survive."""
    from transformers import AutoModelForCausalLM
    from transformers.integrations import deepspeed as hf_deepspeed

    from selfrat_eval.generation.hf import load_hf_model
    from selfrat_eval.training.modeling import ModelRef, load_model

    class Zero3Config:  # what HfTrainerDeepSpeedConfig answers under accelerate/zero3.yaml
        def is_zero3(self) -> bool:
            return True

    seen: list[bool] = []
    real = AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(hf_deepspeed.is_deepspeed_zero3_enabled())
        hf_deepspeed.unset_hf_deepspeed_config()  # the tiny model has no DeepSpeed to partition it
        try:
            return real(cls, *args, **kwargs)
        finally:
            hf_deepspeed.set_hf_deepspeed_config(config)

    config = Zero3Config()
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    hf_deepspeed.set_hf_deepspeed_config(config)
    try:
        cfg = TrainConfig.from_dict({"model": {"name_or_path": str(env["model"])}, "use_cpu": True})
        load_hf_model(str(env["model"]))
        load_model(ModelRef(str(env["model"])), cfg, for_training=False)
        load_model(ModelRef(str(env["model"])), cfg)
        assert seen == [False, False, True]
        assert hf_deepspeed.is_deepspeed_zero3_enabled()  # restored after each inference load
    finally:
        hf_deepspeed.unset_hf_deepspeed_config()
