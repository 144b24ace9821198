"""Unit tests for training: config, decontamination, curation strategies, rejection-sampling
baseline, and resumable incremental sampling (with a fake backend, no torch)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from helpers_training import feedback_row, write_bench, write_collection

from selfrat_eval.generation.base import Sample, SamplingConfig
from selfrat_eval.records import DataError
from selfrat_eval.training import faults
from selfrat_eval.training.baselines import rejection_sampling_examples
from selfrat_eval.training.config import ConfigError, CurationConfig, DataConfig, TrainConfig
from selfrat_eval.training.curation import curate
from selfrat_eval.training.data import iteration_slices, load_pool, sft_target, split_heldout
from selfrat_eval.training.pipeline import split_pairs_by_input
from selfrat_eval.training.sampling import Unit, sample_units

ROOT = Path(__file__).resolve().parents[1]


def rec(key: str, gold: int | None, scores: list[int | None]) -> dict:
    return {
        "key": key,
        "gold": gold,
        "prompt": [{"role": "user", "content": f"grade {key}"}],
        "samples": [
            {"score": s, "rationale": None if s is None else f"r{i} of {key}", "text": "", "error": None if s else "no_marker"}
            for i, s in enumerate(scores)
        ],
    }


# ---- config ------------------------------------------------------------------------------------


def test_recipes_load_and_validate():
    for path in sorted((ROOT / "training").glob("*.yaml")):
        cfg = TrainConfig.load(path)
        assert cfg.model.name_or_path
    paper = TrainConfig.load(ROOT / "training" / "sre-llama3.1-8b.yaml")
    assert paper.iterations == [5000, 500]
    assert paper.data.decontaminate_against == "prometheus-eval/Feedback-Bench"


def test_config_overrides_and_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\niterations: [10, 5]\n")
    cfg = TrainConfig.load(p, ["dpo.beta=0.3", "iterations=[4]", "curation.strategy=majority"])
    assert cfg.dpo.beta == 0.3 and cfg.iterations == [4] and cfg.curation.strategy == "majority"
    with pytest.raises(ConfigError, match="unknown field.*betta"):
        TrainConfig.load(p, ["dpo.betta=0.3"])
    with pytest.raises(ConfigError, match="curation.strategy"):
        TrainConfig.load(p, ["curation.strategy=vibes"])
    with pytest.raises(ConfigError, match="not found"):
        TrainConfig.load(tmp_path / "missing.yaml")
    # report_to and output_dir do not change the fingerprint; a hyper-parameter does
    a = TrainConfig.load(p)
    assert a.fingerprint() == TrainConfig.load(p, ["report_to=tensorboard", "output_dir=x"]).fingerprint()
    assert a.fingerprint() != TrainConfig.load(p, ["seed=1"]).fingerprint()


# ---- data -----------------------------------------------------------------------------------------


def test_decontamination_drops_bench_rows(tmp_path):
    data = write_collection(tmp_path / "fc.jsonl", 20)
    # bench rows equal to collection rows 3 and 7 up to whitespace, plus one unrelated row
    b3 = feedback_row(3, 4)
    b3["orig_instruction"] = "  " + b3["orig_instruction"].replace(" ", "  ") + "\n"
    bench = write_bench(tmp_path / "fb.jsonl", [b3, feedback_row(7, 3), feedback_row(99, 1, instruction="other")])
    items, dropped = load_pool(DataConfig(source=str(data), decontaminate_against=str(bench)))
    assert dropped == {"contaminated": 2}
    assert len(items) == 18 and {"3", "7"}.isdisjoint({it.id for it in items})
    items, dropped = load_pool(DataConfig(source=str(data), decontaminate_against=None))
    assert len(items) == 20 and dropped == {}


def test_heldout_split_and_iteration_slices_are_disjoint_and_seeded(tmp_path):
    items, _ = load_pool(DataConfig(source=str(write_collection(tmp_path / "fc.jsonl", 30)), decontaminate_against=None))
    train, held = split_heldout(items, 5, seed=0)
    assert len(held) == 5 and not {i.id for i in train} & {i.id for i in held}
    assert [i.id for i in split_heldout(items, 5, seed=0)[1]] == [i.id for i in held]
    assert [i.id for i in split_heldout(items, 5, seed=1)[1]] != [i.id for i in held]
    s = iteration_slices(25, [10, 8], seed=0)
    assert len(s[0]) == 10 and len(s[1]) == 8 and not set(s[0]) & set(s[1])
    with pytest.raises(DataError, match="iterations ask for 8 inputs but the training pool has 5"):
        iteration_slices(5, [4, 4], seed=0)
    wrap = iteration_slices(5, [4, 4], seed=0, allow_reuse=True)  # opt-in: wraps when the pool runs out
    assert len(set(wrap[0])) == 4 and len(wrap[1]) == 4
    with pytest.raises(DataError, match="heldout_size"):
        split_heldout(items, 30, seed=0)


def test_sft_target_uses_gold_and_rejects_inconsistent_rows(tmp_path):
    items, _ = load_pool(DataConfig(source=str(write_collection(tmp_path / "fc.jsonl", 5)), decontaminate_against=None))
    assert sft_target(items[2]) == "The response meets level 3 of the rubric. [RESULT] 3"
    bad = feedback_row(0, 2)
    bad["output"] = "Fine. [RESULT] 5"
    path = write_bench(tmp_path / "bad.jsonl", [bad])
    bad_items, _ = load_pool(DataConfig(source=str(path), decontaminate_against=None))
    with pytest.raises(DataError, match="orig_score is 2"):
        sft_target(bad_items[0])


# ---- curation ------------------------------------------------------------------------------------


def test_gold_strategy_min_gap_and_failures():
    records = [
        rec("a", 4, [4, 2, None, 3, 1]),  # chosen = 4; rejected must miss by >= 2: 2 and 1 (not 3)
        rec("b", 5, [4, 4, 3]),  # no judgment lands on 5
        rec("c", 1, [1, 2, 1]),  # nothing misses by 2
        rec("d", 3, [None, None, 3]),  # too few parsed
    ]
    pairs, stats = curate(records, CurationConfig(strategy="gold", min_gap=2, pairs_per_input=5, balance=False), seed=0)
    assert {p["key"] for p in pairs} == {"a"}
    assert all(p["chosen_score"] == 4 and p["rejected_score"] in (1, 2) for p in pairs)
    assert len(pairs) == 2  # only two distinct (chosen, rejected) combinations exist
    assert stats["inputs_without_pairs"] == {"no_chosen": 1, "no_rejected": 1, "too_few_valid": 1}
    assert stats["n_valid_samples"] == 11 and stats["n_samples"] == 14
    # the canonical training text ends with the verdict
    assert pairs[0]["chosen"][0]["content"].endswith("[RESULT] 4")
    one, _ = curate(records, CurationConfig(strategy="gold", min_gap=2, pairs_per_input=1, balance=False), seed=0)
    assert len(one) == 1
    wide, _ = curate(records, CurationConfig(strategy="gold", min_gap=3, pairs_per_input=5, balance=False), seed=0)
    assert [p["rejected_score"] for p in wide] == [1]


def test_majority_strategy_ignores_gold():
    records = [rec("a", 1, [3, 3, 3, 5, 1]), rec("b", None, [2, 2, 4, 4, 5, 5, 5])]
    pairs, _ = curate(records, CurationConfig(strategy="majority", min_gap=2, pairs_per_input=3, balance=False), seed=0)
    a = [p for p in pairs if p["key"] == "a"]
    assert a and all(p["label"] == 3 and p["chosen_score"] == 3 and p["rejected_score"] in (1, 5) for p in a)
    b = [p for p in pairs if p["key"] == "b"]
    assert b and all(p["label"] == 5 and p["rejected_score"] in (2,) for p in b)


def test_meta_judge_strategy_uses_self_ratings():
    records = [rec("a", 1, [5, 1, 3, 4])]
    ratings = {"a": [4.5, 2.0, 3.0, None]}  # the judge likes its own "5" judgment best
    pairs, _ = curate(
        records, CurationConfig(strategy="meta-judge", min_gap=2, pairs_per_input=3, balance=False), seed=0, meta_ratings=ratings
    )
    assert pairs and all(p["chosen_score"] == 5 and p["rejected_score"] in (1, 3) for p in pairs)
    assert all(p["chosen_index"] == 0 for p in pairs)  # sample 3 is unrated: never used
    with pytest.raises(ValueError, match="meta ratings"):
        curate(records, CurationConfig(strategy="meta-judge"), seed=0)


def _skewed_records() -> list[dict]:
    rng = random.Random(0)
    records = []
    for i in range(60):
        gold = 5 if i < 40 else (1 + i % 4)  # 40 inputs with gold 5, 5 each with gold 1..4
        scores = [gold, gold, 1 if gold >= 3 else 5, rng.randint(1, 5)]
        records.append(rec(f"k{i}", gold, scores))
    return records


def test_balancing_min_equalises_labels_and_is_deterministic():
    records = _skewed_records()
    cfg = CurationConfig(strategy="gold", pairs_per_input=1, balance="min")
    pairs, stats = curate(records, cfg, seed=3)
    counts = Counter(p["label"] for p in pairs)
    assert len(set(counts.values())) == 1 and stats["pairs_by_label_before_balance"]["5"] == 40
    assert stats["n_pairs_before_balance"] == 60 and stats["n_pairs"] == 25
    again, _ = curate(records, cfg, seed=3)
    assert again == pairs
    other, _ = curate(records, cfg, seed=4)
    assert [p["key"] for p in other] != [p["key"] for p in pairs]
    capped, _ = curate(records, CurationConfig(strategy="gold", balance=False, max_pairs=7), seed=3)
    assert len(capped) == 7
    # the former boolean switch still reads: true = min, false = none
    assert TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"balance": True}}).curation.balance == "min"


def test_balancing_to_a_cap_keeps_rare_labels_whole():
    records = _skewed_records()
    pairs, stats = curate(records, CurationConfig(strategy="gold", pairs_per_input=1, balance="cap"), seed=3)
    # cap = mean pairs per label = 60 / 5 = 12: label 5 is cut to 12, labels 1..4 keep their 5
    assert Counter(p["label"] for p in pairs) == {1: 5, 2: 5, 3: 5, 4: 5, 5: 12}
    assert stats["n_pairs_before_balance"] == 60 and stats["n_pairs"] == 32 and stats["balance"] == "cap"
    fixed, _ = curate(records, CurationConfig(strategy="gold", pairs_per_input=1, balance="cap", balance_cap=3), seed=3)
    assert Counter(p["label"] for p in fixed) == {label: 3 for label in range(1, 6)}
    none, _ = curate(records, CurationConfig(strategy="gold", pairs_per_input=1, balance="none"), seed=3)
    assert len(none) == 60
    with pytest.raises(ConfigError, match="curation.balance"):
        TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"balance": "rarest"}})


def test_rejection_sampling_keeps_only_gold_matches():
    records = [rec("a", 4, [4, 2, 4, 4]), rec("b", 2, [5, 5])]
    rows, stats = rejection_sampling_examples(records, per_input=2, seed=0)
    assert stats["n_inputs"] == 2 and stats["n_inputs_kept"] == 1 and stats["n_examples"] == 2
    assert all(r["completion"][0]["content"].endswith("[RESULT] 4") for r in rows)
    assert set(rows[0]) == {"prompt", "completion"}


def test_rejection_sampling_balances_labels_like_pairs():
    """A seed right mostly on gold-1 items must not teach RS-SFT to answer 1 everywhere."""
    records = [rec(f"one{i}", 1, [1, 1, 3]) for i in range(12)] + [rec(f"x{i}", 2 + i % 4, [2 + i % 4, 1]) for i in range(4)]
    rows, stats = rejection_sampling_examples(records, per_input=2, seed=0, balance="cap")
    labels = Counter(int(r["completion"][0]["content"][-1]) for r in rows)
    # 24 rows on label 1 and one on each of 2..5: the cap (mean = 28 / 5 -> 6) cuts label 1 only
    assert stats["examples_by_label_before_balance"] == {"1": 24, "2": 1, "3": 1, "4": 1, "5": 1}
    assert labels == {1: 6, 2: 1, 3: 1, 4: 1, 5: 1} and stats["n_examples"] == 10
    rows_min, _ = rejection_sampling_examples(records, per_input=2, seed=0, balance="min")
    assert len(rows_min) == 5
    unbalanced, _ = rejection_sampling_examples(records, per_input=2, seed=0)
    assert len(unbalanced) == 28


def test_heldout_pairs_split_by_whole_inputs():
    pairs = [{"key": k} for k in "aabbbcd"]
    train, held = split_pairs_by_input(pairs, 3)
    assert {p["key"] for p in held} == {"a", "b"} and {p["key"] for p in train} == {"c", "d"}
    assert split_pairs_by_input(pairs, 0) == (pairs, [])


# ---- resumable sampling ------------------------------------------------------------------------


class FakeBackend:
    """Deterministic in (prompt, n, seed), like the protocol requires; counts its calls."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompts, *, n=1, sampling=None, seed=0):
        self.calls += 1
        out = []
        for p in prompts:
            r = random.Random(f"{seed}:{p}")
            out.append([Sample(f"why {r.random():.4f} [RESULT] {r.randint(0, 6)}", (-0.5,), "stop") for _ in range(n)])
        return out


def _units(n: int) -> list[Unit]:
    return [Unit(key=f"u{i}", prompt=f"prompt {i}", extra={"gold": 1 + i % 5}) for i in range(n)]


def test_sampling_writes_parses_and_counts_failures(tmp_path):
    path = sample_units(_units(5), FakeBackend(), tmp_path / "s.jsonl", n=4, sampling=SamplingConfig(), seed=1, batch_size=2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["key"] for r in rows] == [f"u{i}" for i in range(5)] and [r["batch"] for r in rows] == [0, 0, 1, 1, 2]
    flat = [s for r in rows for s in r["samples"]]
    assert len(flat) == 20
    assert all((s["score"] is None) == (s["error"] == "out_of_range") for s in flat)  # 0 and 6 fail, never a default
    assert any(s["score"] is None for s in flat) and all(r["gold"] == 1 + int(r["key"][1:]) % 5 for r in rows)


def test_sampling_resume_after_kill_gives_identical_file(tmp_path, monkeypatch):
    ref = sample_units(_units(7), FakeBackend(), tmp_path / "ref.jsonl", n=3, sampling=SamplingConfig(), seed=5, batch_size=2)
    path = tmp_path / "s.jsonl"
    monkeypatch.setenv(faults.ENV, "sample:2")
    with pytest.raises(faults.InjectedFault):
        sample_units(_units(7), FakeBackend(), path, n=3, sampling=SamplingConfig(), seed=5, batch_size=2)
    assert len(path.read_text().splitlines()) == 4  # two complete batches survived
    with path.open("a") as fh:  # a kill in the middle of the third batch's write
        fh.write(ref.read_text().splitlines()[4] + "\n" + '{"key": "u5", "bat')
    monkeypatch.delenv(faults.ENV)
    backend = FakeBackend()
    sample_units(_units(7), backend, path, n=3, sampling=SamplingConfig(), seed=5, batch_size=2)
    assert backend.calls == 2  # batches 2 and 3 only: finished work is not redone
    assert path.read_text() == ref.read_text()
    # a finished file is not touched and the model is never built
    sample_units(_units(7), lambda: pytest.fail("backend built"), path, n=3, sampling=SamplingConfig(), seed=5, batch_size=2)
    assert path.read_text() == ref.read_text()


# ---- meta-judge, pairwise SFT data, trainer arguments ---------------------------------------------


def test_meta_judge_units_and_ratings(tmp_path):
    from selfrat_eval.training.meta_judge import META_RUBRIC, meta_units, read_ratings

    records = [rec("a", 3, [3, None, 5]), rec("b", 2, [2])]
    units = meta_units(records)
    assert [u.key for u in units] == ["a#0", "a#2", "b#0"]  # failed judgments are not rated
    user = units[0].prompt[-1]["content"]
    assert "grade a" in user and "r0 of a [RESULT] 3" in user and META_RUBRIC.criteria in user
    path = tmp_path / "meta.jsonl"
    rows = [
        {"key": "a#0", "samples": [{"score": 4}, {"score": 5}]},
        {"key": "a#2", "samples": [{"score": None}]},
        {"key": "b#0", "samples": [{"score": 2}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_ratings(path) == {"a": [4.5, None, None], "b": [2.0]}


def test_pairwise_sft_examples_keep_original_order(tmp_path):
    from selfrat_eval.records import PairwiseItem
    from selfrat_eval.training.sft import pairwise_examples, pointwise_examples

    item = PairwiseItem(
        id="0", prompt="Q?", chosen="good", rejected="bad", subset="preference-collection",
        metadata={"criteria": "Is it good?", "preference": "B", "target": "B is better. [RESULT] B"},
    )
    row = pairwise_examples([item])[0]
    user = row["prompt"][-1]["content"]
    assert user.index("###Response A:\nbad") < user.index("###Response B:\ngood") and "[Is it good?]" in user
    assert row["completion"] == [{"role": "assistant", "content": "B is better. [RESULT] B"}]
    items, _ = load_pool(DataConfig(source=str(write_collection(tmp_path / "fc.jsonl", 3)), decontaminate_against=None))
    rows = pointwise_examples(items)
    assert rows[1]["completion"][0]["content"].endswith("[RESULT] 2") and rows[1]["prompt"][0]["role"] == "system"


def test_trainer_args_pass_report_to_and_device(tmp_path):
    pytest.importorskip("torch")
    from selfrat_eval.training.trainer_args import common_args

    cfg = TrainConfig.from_dict({"model": {"name_or_path": "m"}, "report_to": "tensorboard", "use_cpu": True})
    args = common_args(cfg.dpo, tmp_path, cfg, seed=7)
    assert args["report_to"] == "tensorboard" and args["use_cpu"] is True and args["bf16"] is False
    assert args["seed"] == 7 and args["save_steps"] == cfg.dpo.save_steps


def test_one_process_on_several_gpus_trains_on_one_device(tmp_path):
    """transformers wraps the model in nn.DataParallel when one process sees several GPUs, which
    multiplies the configured batch by the GPU count; the trainers are kept on one device."""
    pytest.importorskip("trl")
    from trl import DPOConfig

    from selfrat_eval.training.trainer_args import common_args, one_device_per_process

    cfg = TrainConfig.from_dict({"model": {"name_or_path": "m"}, "use_cpu": True})
    args = DPOConfig(**common_args(cfg.dpo, tmp_path, cfg, seed=0))
    assert one_device_per_process(args).n_gpu == args.n_gpu == 0  # CPU: untouched
    args._n_gpu = 4  # what _setup_devices sets for one process with four visible GPUs
    assert args.n_gpu == 4
    assert one_device_per_process(args).n_gpu == 1
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.n_gpu) == (
        cfg.dpo.batch_size * cfg.dpo.gradient_accumulation_steps
    )


def test_backend_comes_from_the_shared_factory(tmp_path):
    pytest.importorskip("transformers")
    import importlib.util

    from selfrat_eval.generation.factory import build_backend
    from selfrat_eval.tiny_model import build_tiny_llama
    from selfrat_eval.training.sampling import backend_config

    model = build_tiny_llama(tmp_path / "tiny")
    cfg = TrainConfig.from_dict({"model": {"name_or_path": str(model)}, "use_cpu": True, "sampling": {"hf_batch_size": 5}})
    bc = backend_config(cfg, gguf_file=None)
    assert bc.name == "hf" and bc.device == "cpu" and bc.dtype == "float32" and bc.batch_size == 5  # auto: no vLLM on CPU
    backend = build_backend(str(model), bc)
    assert backend.name == "hf" and backend.batch_size == 5
    if importlib.util.find_spec("vllm") is None:
        cfg.sampling.backend = "vllm"
        with pytest.raises((ImportError, RuntimeError)):
            build_backend(str(model), backend_config(cfg))


def test_training_and_runner_share_the_seeding_helper_and_backend_factory(monkeypatch):
    import selfrat_eval.generation.factory as factory
    import selfrat_eval.training.sampling as sampling
    from selfrat_eval import seeding

    assert sampling.derive_seed is seeding.derive_seed
    built = []
    monkeypatch.setattr(factory, "build_backend", lambda model, cfg: built.append((model, cfg)) or "backend")
    cfg = TrainConfig.from_dict({"model": {"name_or_path": "m"}, "use_cpu": True})
    assert sampling.make_backend("dir", cfg) == "backend"  # training builds through the one factory
    assert built == [("dir", sampling.backend_config(cfg))]


def test_config_coerces_yaml_exponents_and_rejects_bad_types(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\nsft: {learning_rate: 2e-3}\n")  # YAML 1.1: a string
    cfg = TrainConfig.load(p, ["dpo.beta=1"])
    assert cfg.sft.learning_rate == 0.002 and isinstance(cfg.dpo.beta, float)
    with pytest.raises(ConfigError, match="sampling: n: expected an integer"):
        TrainConfig.load(p, ["sampling.n=lots"])
    with pytest.raises(ConfigError, match="expected a number"):
        TrainConfig.load(p, ["dpo.beta=high"])


# ---- bad values and small pools fail early, as one line --------------------------------------------


@pytest.mark.parametrize(
    "override, message",
    [
        ("sampling.temperature=-1", r"sampling\.temperature must be > 0 .*got -1\.0"),
        ("sampling.top_p=5", r"sampling\.top_p must be in \(0, 1\], got 5\.0"),
        ("dpo.beta=-1", r"dpo\.beta must be > 0, got -1\.0"),
        ("evaluation.temperature=-0.5", r"evaluation\.temperature must be empty .* or > 0"),
        ("sft.learning_rate=0", r"sft\.learning_rate must be > 0, got 0\.0"),
        ("dpo.learning_rate=-1e-5", r"dpo\.learning_rate must be > 0"),
        ("sampling.batch_size=0", r"sampling\.batch_size must be >= 1, got 0"),
        ("sft.batch_size=0", r"sft\.batch_size must be >= 1, got 0"),
        ("evaluation.n=0", r"evaluation\.n must be >= 2, got 0"),
        ("data.limit=0", r"data\.limit must be empty or an integer >= 1, got 0"),
        ("sampling.temperature=.nan", r"sampling\.temperature must be > 0"),
    ],
)
def test_out_of_range_values_name_the_field(tmp_path, override, message):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: " + message):
        TrainConfig.load(p, [override])


def test_sampling_n_and_temperature_per_method(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\n")
    with pytest.raises(ConfigError, match=r"sampling\.n must be >= 1, got 0"):
        TrainConfig.load(p, ["method=rejection-sampling", "sampling.n=0"])
    assert TrainConfig.load(p, ["method=sft-only", "sampling.temperature=0"]).sampling.temperature == 0.0


def test_allow_reuse_keeps_old_fingerprints(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\n")
    default = TrainConfig.load(p)
    assert default.data.allow_reuse is False
    d = default.to_dict()
    del d["data"]["allow_reuse"]
    assert TrainConfig.from_dict(d).fingerprint() == default.fingerprint()
    assert TrainConfig.load(p, ["data.allow_reuse=true"]).fingerprint() != default.fingerprint()


def _train(tmp_path, capsys, n_rows: int, *overrides: str) -> tuple[int, str]:
    """``selfrat train`` on a tiny collection and a model that does not exist (never loaded)."""
    from selfrat_eval.cli import main

    data = write_collection(tmp_path / "fc.jsonl", n_rows)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"model: {{name_or_path: {tmp_path / 'no-model'}}}\n"
        f"data: {{source: {data}, decontaminate_against: null}}\n"
    )
    out = f"output_dir={tmp_path / 'runs' / str(len(list(tmp_path.glob('runs/*'))))}"
    code = main(["train", "--config", str(cfg), out, *overrides])
    return code, capsys.readouterr().err


def _error_line(err: str) -> str:
    """The one error line; the rest of stderr is logging and progress bars, never a traceback."""
    lines = [line for line in err.splitlines() if line.startswith("selfrat train:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_train_refuses_a_pool_too_small_before_loading_a_model(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, 3, "data.heldout_size=1")
    line = _error_line(err)
    assert code == 2 and "3 usable items cannot cover data.heldout_size=1 + iterations=[5000, 500]" in line
    assert "data.allow_reuse=true" in line
    assert not list(tmp_path.glob("runs/*/sft"))  # nothing trained
    code, err = _train(tmp_path, capsys, 3)  # default held-out size 200
    assert code == 2 and "data.heldout_size=200" in _error_line(err)


def test_train_prints_config_and_data_errors_as_one_line(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, 3, "sampling.top_p=5")
    assert code == 2 and err.strip() == f"selfrat train: {tmp_path / 'c.yaml'}: sampling.top_p must be in (0, 1], got 5.0"
    (tmp_path / "broken.jsonl").write_bytes(b"\xff\xfe not json\n")
    code, err = _train(tmp_path, capsys, 3, f"data.source={tmp_path / 'broken.jsonl'}", "data.heldout_size=0")
    assert code == 2 and "0 usable items, after dropping {'malformed': 1}" in _error_line(err)
    from selfrat_eval.cli import main

    (tmp_path / "bad.yaml").write_text("model: [unclosed\n  x: y\n")  # YAML errors span lines
    assert main(["train", "--config", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bad.yaml: invalid YAML" in err


def test_allow_reuse_lets_a_small_pool_through_the_check(tmp_path):
    from selfrat_eval.training.data import check_pool_size

    cfg = DataConfig(source="x", heldout_size=1)
    with pytest.raises(DataError, match="x: 3 usable items cannot cover"):
        check_pool_size(3, cfg, [5, 5])
    check_pool_size(3, DataConfig(source="x", heldout_size=1, allow_reuse=True), [5, 5])
    check_pool_size(12, cfg, [5, 5])
    with pytest.raises(DataError, match="at least 1 training item"):
        check_pool_size(1, cfg, [])


def test_read_jsonl_names_the_line_of_a_non_utf8_byte(tmp_path):
    from selfrat_eval.training.data import read_jsonl

    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match=r"samples\.jsonl, line 2: not valid UTF-8"):
        list(read_jsonl(path))

# ---- re-sampling inputs without a pair ---------------------------------------------------------


class RoundBackend:
    """The k-th call for a prompt returns the k-th score list of its script (the last one after)."""

    name = "rounds"

    def __init__(self, script: dict[str, list[list[int]]]) -> None:
        self.script = script
        self.calls: Counter[str] = Counter()

    def generate(self, prompts, *, n=1, sampling=None, seed=0):
        out = []
        for p in prompts:
            k = self.calls[p]
            self.calls[p] += 1
            scores = self.script[p][min(k, len(self.script[p]) - 1)]
            out.append([Sample(f"call {k} sample {i} [RESULT] {scores[i % len(scores)]}", (-0.1,), "stop") for i in range(n)])
        return out


def _gold_units(golds: dict[str, int]) -> list[Unit]:
    return [Unit(key=k, prompt=k, extra={"gold": g, "prompt": [{"role": "user", "content": k}]}) for k, g in golds.items()]


def test_resampling_rescues_inputs_within_the_budget(tmp_path):
    from selfrat_eval.training.resampling import merged_records, sample_with_budget

    units = _gold_units({"never": 1, "later": 5, "ok": 3})
    backend = RoundBackend({"never": [[3]], "later": [[3], [5, 2]], "ok": [[3, 1]]})
    cur = CurationConfig(strategy="gold", min_gap=2, balance="none")
    stats = sample_with_budget(units, backend, tmp_path, n=2, sampling=SamplingConfig(), seed=0, batch_size=2,
                               curation=cur, budget=5, resample_n=2)
    # "never" gets rounds of 2 until the next would exceed 5 extra samples; "later" is rescued in round 1;
    # "ok" has a pair from the start and is never re-sampled
    assert backend.calls == {"never": 3, "later": 2, "ok": 1}
    assert stats["n_inputs_resampled"] == 2 and stats["n_extra_samples"] == 6 and stats["resample_rounds"] == 2
    assert stats["n_inputs_without_pair_before_resampling"] == 2 and stats["n_inputs_rescued"] == 1
    records = {r["key"]: r for r in merged_records(tmp_path)}
    assert [s["round"] for s in records["later"]["samples"]] == [0, 0, 1, 1]
    assert len(records["never"]["samples"]) == 6 and len(records["ok"]["samples"]) == 2
    pairs, cstats = curate(list(records.values()), cur, seed=0)
    assert {p["key"] for p in pairs} == {"later", "ok"} and cstats["inputs_without_pairs"] == {"no_chosen": 1}
    # budget 0: one round only, no re-sampling file
    other = tmp_path / "no-budget"
    stats0 = sample_with_budget(units, RoundBackend(backend.script), other, n=2, sampling=SamplingConfig(), seed=0,
                                batch_size=2, curation=cur, budget=0)
    assert stats0["n_extra_samples"] == 0 and sorted(p.name for p in other.iterdir()) == ["samples.jsonl"]


def test_resampling_resumes_to_identical_files(tmp_path, monkeypatch):
    from selfrat_eval.training.resampling import sample_with_budget

    units = [Unit(key=f"u{i}", prompt=f"prompt {i}", extra={"gold": 1 + i % 5, "prompt": []}) for i in range(7)]
    cur = CurationConfig(strategy="gold", min_gap=2)
    kw = {"n": 3, "sampling": SamplingConfig(), "seed": 5, "batch_size": 2, "curation": cur, "budget": 6}
    ref = tmp_path / "ref"
    ref_stats = sample_with_budget(units, FakeBackend(), ref, **kw)
    assert ref_stats["resample_rounds"] >= 1 and (ref / "resample1.jsonl").exists()
    out = tmp_path / "killed"
    monkeypatch.setenv(faults.ENV, "sample:4")  # dies right after round 0's last batch
    with pytest.raises(faults.InjectedFault):
        sample_with_budget(units, FakeBackend(), out, **kw)
    monkeypatch.setenv(faults.ENV, "sample:1")  # round 0 is complete: dies after round 1's first batch
    with pytest.raises(faults.InjectedFault):
        sample_with_budget(units, FakeBackend(), out, **kw)
    monkeypatch.delenv(faults.ENV)
    assert sample_with_budget(units, FakeBackend(), out, **kw) == {**ref_stats, "samples": str(out / "samples.jsonl")}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())
    for p in ref.iterdir():
        assert (out / p.name).read_text() == p.read_text(), p.name


def test_config_validates_new_sections():
    base = {"model": {"name_or_path": "m"}}
    cfg = TrainConfig.from_dict({**base, "baselines": ["rejection-sampling"], "evaluation": {"strategies": [
        "greedy", "expected-score", {"name": "self-consistency", "n": 4, "sc_method": "mean"}]}})
    from selfrat_eval.training.evaluate import strategy_configs, strategy_slug

    assert [strategy_slug(s) for s in strategy_configs(cfg.evaluation)] == ["greedy", "expected-score", "sc4-mean"]
    for bad, match in (
        ({"baselines": ["self-consistency"]}, "baselines"),
        ({"baselines": ["rejection-sampling"], "method": "sft-only"}, "baselines run beside"),
        ({"evaluation": {"strategies": ["vibes"]}}, "evaluation: strategy must be one of"),
        ({"evaluation": {"strategies": [{"name": "best-of-n", "n": 1}]}}, "n >= 2"),
        ({"evaluation": {"strategies": [{"name": "greedy", "k": 1}]}}, "unknown key"),
        ({"data": {"sft_size": 0}}, "sft_size"),
        ({"sampling": {"resample_budget": -1}}, "resample_budget"),
        ({"sampling": {"n": 8, "resample_budget": 4}}, "smaller than one re-sampling round"),
    ):
        with pytest.raises(ConfigError, match=match):
            TrainConfig.from_dict({**base, **bad})
    ok = TrainConfig.from_dict({**base, "sampling": {"n": 8, "resample_budget": 4, "resample_n": 4}})
    assert ok.sampling.resample_budget == 4


def test_sft_items_and_iteration_inputs_are_disjoint(tmp_path):
    from selfrat_eval.training.data import sft_and_iteration_pool

    items, _ = load_pool(DataConfig(source=str(write_collection(tmp_path / "fc.jsonl", 30)), decontaminate_against=None))
    sft, pool = sft_and_iteration_pool(items, 12, seed=0)
    assert len(sft) == 12 and len(pool) == 18 and not {i.id for i in sft} & {i.id for i in pool}
    assert sft_and_iteration_pool(items, 12, seed=0) == (sft, pool)
    assert sft_and_iteration_pool(items, None, seed=0) == (items, items)
    with pytest.raises(DataError, match="sft_size"):
        sft_and_iteration_pool(items, 30, seed=0)


def test_validation_gate_config_keeps_old_fingerprints(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\n")
    default = TrainConfig.load(p)
    d = default.to_dict()
    del d["validation"]  # configs written before the gate existed
    assert TrainConfig.from_dict(d).fingerprint() == default.fingerprint()
    gated = TrainConfig.load(p, ["validation.size=50", "validation.min_gain=0.01"])
    assert gated.validation.size == 50 and gated.fingerprint() != default.fingerprint()
    with pytest.raises(ConfigError, match=r"validation\.size must be an integer >= 0, got -1"):
        TrainConfig.load(p, ["validation.size=-1"])
    with pytest.raises(ConfigError, match=r"validation\.min_gain must be a finite number, got nan"):
        TrainConfig.load(p, ["validation.min_gain=.nan"])


def test_dpo_draw_repeats_training_only_and_keeps_old_runs(tmp_path):
    from selfrat_eval.seeding import derive_seed
    from selfrat_eval.training.pipeline import dpo_seed, planned_stages

    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\niterations: [4, 2]\n")
    default = TrainConfig.load(p)
    d = default.to_dict()
    del d["dpo"]["draw"]  # configs written before dpo.draw existed
    assert TrainConfig.from_dict(d).fingerprint() == default.fingerprint()
    # draw 0 trains with the seed every earlier run used; other draws with their own, per iteration
    assert [dpo_seed(default, t) for t in (1, 2)] == [derive_seed(0, 1, 3), derive_seed(0, 2, 3)]
    draws = [TrainConfig.load(p, [f"dpo.draw={k}"]) for k in (1, 2)]
    seeds = {dpo_seed(c, t) for c in [default, *draws] for t in (1, 2)}
    assert len(seeds) == 6
    assert dpo_seed(draws[0], 1) == dpo_seed(TrainConfig.load(p, ["dpo.draw=1"]), 1)
    # a draw is a new run (its own fingerprint) over the same stages and data
    assert draws[0].fingerprint() != default.fingerprint()
    assert planned_stages(draws[0]) == planned_stages(default)
    with pytest.raises(ConfigError, match=r"dpo\.draw must be an integer >= 0, got -1"):
        TrainConfig.load(p, ["dpo.draw=-1"])


def test_validation_draws_add_dpo_and_validation_stages_and_keep_old_runs(tmp_path):
    from selfrat_eval.training.pipeline import dpo_draws, dpo_seed, planned_stages

    p = tmp_path / "c.yaml"
    p.write_text("model: {name_or_path: m}\niterations: [4, 2]\nvalidation: {size: 10}\n")
    one = TrainConfig.load(p)
    d = one.to_dict()
    del d["validation"]["draws"]  # gated configs written before validation.draws existed
    assert TrainConfig.from_dict(d).fingerprint() == one.fingerprint()
    three = TrainConfig.load(p, ["validation.draws=3", "dpo.draw=1"])
    assert three.fingerprint() != one.fingerprint()
    # the run's own draw keeps a single-draw run's names; the others get their own folders
    assert dpo_draws(three, 2) == [(1, "iter2"), (2, "iter2/dpo-draw2"), (3, "iter2/dpo-draw3")]
    assert len({dpo_seed(three, 2, d) for d, _ in dpo_draws(three, 2)}) == 3
    assert dpo_seed(three, 2, 1) == dpo_seed(three, 2) == dpo_seed(TrainConfig.load(p, ["dpo.draw=1"]), 2)
    stages = planned_stages(three)
    it1 = stages[stages.index("iter1/sampling"):stages.index("iter2/sampling")]
    assert it1 == ["iter1/sampling", "iter1/curation", "iter1/dpo", "iter1/dpo-draw2", "iter1/dpo-draw3",
                   "iter1/validation", "iter1/dpo-draw2/validation", "iter1/dpo-draw3/validation", "iter1/eval"]
    assert [s for s in planned_stages(one) if "draw" in s] == []
    with pytest.raises(ConfigError, match=r"validation\.draws must be an integer >= 1, got 0"):
        TrainConfig.load(p, ["validation.draws=0"])
    with pytest.raises(ConfigError, match=r"validation\.draws > 1 .* set validation\.size > 0"):
        TrainConfig.load(p, ["validation.draws=2", "validation.size=0"])
    with pytest.raises(ConfigError, match=r"validation\.draws > 1 repeats the DPO stage"):
        TrainConfig.load(p, ["validation.draws=2", "method=rejection-sampling"])


def test_validation_split_takes_only_items_no_stage_uses(tmp_path):
    from selfrat_eval.training.data import sft_and_iteration_pool, validation_split

    items, _ = load_pool(DataConfig(source=str(write_collection(tmp_path / "fc.jsonl", 30)), decontaminate_against=None))
    sft, pool = sft_and_iteration_pool(items, 10, seed=0)
    slices = iteration_slices(len(pool), [6, 6], seed=0)
    used = sft + [pool[i] for s in slices for i in s]
    val = validation_split(items, used, 8, seed=0)
    assert len(val) == 8 and not {it.id for it in val} & {it.id for it in used}
    five = validation_split(items, used, 5, seed=0)
    assert validation_split(items, used, 5, seed=0) == five and validation_split(items, used, 5, seed=1) != five
    assert validation_split(items, used, 0, seed=0) == []
    with pytest.raises(DataError, match="validation.size=9 needs that many training items .* only 8 are left"):
        validation_split(items, used, 9, seed=0)


def test_train_refuses_a_validation_split_the_pool_cannot_hold_before_loading_a_model(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, 30, "data.heldout_size=5", "data.sft_size=10", "iterations=[5,5]", "validation.size=6")
    line = _error_line(err)
    assert code == 2 and "validation.size=6 needs that many training items" in line and "only 5 are left" in line
    assert not list(tmp_path.glob("runs/*/sft"))
    code, err = _train(tmp_path, capsys, 30, "data.heldout_size=5", "iterations=[5,5]", "validation.size=1")
    assert code == 2 and "only 0 are left" in _error_line(err)  # SFT on every training item leaves none


def test_gate_rule_counts_an_undefined_pearson_as_zero():
    from selfrat_eval.training.pipeline import gate_keeps

    assert gate_keeps(0.50, 0.40, 0.0) and not gate_keeps(0.39, 0.40, 0.0)
    assert gate_keeps(0.40, 0.40, 0.0) and not gate_keeps(0.44, 0.40, 0.05)
    assert gate_keeps(0.10, None, 0.0) and not gate_keeps(-0.10, None, 0.0)
    assert not gate_keeps(None, 0.2, 0.0) and gate_keeps(None, -0.2, 0.0)
    assert gate_keeps(float("nan"), -0.2, 0.0) and not gate_keeps(float("nan"), 0.2, 0.0)


def _demo_judgment(verdicts: list[str], score: int) -> dict:
    clauses = " ".join(f"Check {i}: evidence {i} ({v})." for i, v in enumerate(verdicts))
    met = verdicts.count("met")
    return {"score": score, "rationale": f"{clauses} {met} of {len(verdicts)} met, so the score is {met + 1}.",
            "text": "", "error": None}


def test_constraint_count_check_reads_only_the_judgments_own_verdicts():
    from selfrat_eval.demo.data import SyntheticConfig, build_splits, score_follows_verdicts

    for item in build_splits(SyntheticConfig(n_train=20, n_heldout=0, seed=3))["train"]:
        rationale, _, score = item.metadata["target"].rpartition(" [RESULT] ")
        assert score_follows_verdicts(rationale, int(score))  # every reference rationale is consistent
        assert not score_follows_verdicts(rationale, int(score) % 5 + 1)
    three = _demo_judgment(["met", "met", "violated"], 3)["rationale"]
    assert not score_follows_verdicts(three, 3)  # one verdict short of the four constraints


def test_running_counts_must_count_the_judgments_own_verdicts_clause_by_clause():
    """With ``running_count`` every verdict carries the met count so far; a judgment whose final
    score follows its verdicts but whose running counts do not is not self-consistent."""
    from selfrat_eval.demo.data import (
        SyntheticConfig,
        build_splits,
        evidence_and_stated_verdicts,
        score_follows_verdicts,
        stated_verdicts,
        verdicts_follow_evidence,
    )

    plain = build_splits(SyntheticConfig(n_train=20, n_heldout=0, seed=3))["train"]
    counted = build_splits(SyntheticConfig(n_train=20, n_heldout=0, seed=3, running_count=True))["train"]
    for a, b in zip(plain, counted, strict=True):
        assert (a.instruction, a.response, a.gold_score) == (b.instruction, b.response, b.gold_score)
        rationale, _, score = b.metadata["target"].rpartition(" [RESULT] ")
        assert " so far)." in rationale and score_follows_verdicts(rationale, int(score))
        assert verdicts_follow_evidence(rationale, int(score))
        assert [met for met, _ in stated_verdicts(rationale)] == b.metadata["met"]
        assert [k for _, k in stated_verdicts(rationale)][-1] == int(score) - 1
        assert evidence_and_stated_verdicts(rationale) == evidence_and_stated_verdicts(a.metadata["feedback"])
    sampled = ("Item count: A, B = 2, asked 2 (met, 1 so far). Capitals: A, B (met, 1 so far). "
               "Word 'x': absent (violated, 2 so far). Word limit: 9 words, limit 12 (met, 3 so far). "
               "3 of 4 met, so the score is 4.")
    assert not score_follows_verdicts(sampled, 4)  # three verdicts met, but the counts skip a step
    fixed = sampled.replace("(met, 1 so far). Word", "(met, 2 so far). Word")  # counts 1, 2, 2, 3
    assert score_follows_verdicts(fixed, 4) and not score_follows_verdicts(fixed, 3)
    partial = fixed.replace(", 1 so far", "", 1)  # one clause without its count
    assert not score_follows_verdicts(partial, 4)


def test_constraint_evidence_check_reads_each_verdict_off_its_own_evidence():
    """The sampled judgment seen in a p10 run: its count is right for its verdicts, but two
    verdicts contradict the evidence it copied ("= 2, asked 2" violated, "17 words, limit 16" met)."""
    from selfrat_eval.demo.data import (
        SyntheticConfig,
        build_splits,
        verdict_from_evidence,
        verdicts_follow_evidence,
    )
    from selfrat_eval.training.consistency import consistency_check

    for item in build_splits(SyntheticConfig(n_train=40, n_heldout=20, seed=5))["train"]:
        rationale, _, score = item.metadata["target"].rpartition(" [RESULT] ")
        assert verdicts_follow_evidence(rationale, int(score))
        flipped = rationale.replace("(met).", "(violated).", 1) if "(met)." in rationale else rationale.replace(
            "(violated).", "(met).", 1)
        assert not verdicts_follow_evidence(flipped, int(score))  # one verdict off its evidence
    sampled = ("Item count: Potatoes, Peas = 2, asked 2 (violated). Word 'famous': absent (met). Capitals: P, P (met). "
               "Word limit: 17 words, limit 16 (met). 3 of 4 met, so the score is 4.")
    assert consistency_check("constraint-count")(sampled, 4) and not consistency_check("constraint-evidence")(sampled, 4)
    cases = {("Item count", "A, B = 2, asked 3"): False, ("Item count", "1 line(s) outside the list"): False,
             ("Capitals", "A, b"): False, ("Capitals", "A, B"): True, ("Periods", "'.', '.'"): True,
             ("Periods", "no list items"): False, ("Word 'fresh'", "in item 2"): True, ("Word 'fresh'", "absent"): False,
             ("No 'fresh'", "used"): False, ("No 'fresh'", "absent"): True, ("Word limit", "12 words, limit 12"): True,
             ("Word limit", "about twelve"): None, ("Capitals", "Apples, Pears"): None}
    assert {k: verdict_from_evidence(*k) for k in cases} == cases


def test_consistency_check_keeps_chosen_judgments_whose_score_follows_their_rationale():
    """Gold 3: a judgment saying 3 while its verdicts count 2 met is not chosen (it reached the
    gold score through a wrong verdict and a miscount); an input whose only gold-score judgments are
    like that yields no pair, counted as such, and re-sampling sees it the same way."""
    from selfrat_eval.training.curation import pair_status

    right = _demo_judgment(["met", "met", "violated", "violated"], 3)
    miscount = {**_demo_judgment(["met", "met", "met", "violated"], 3)}  # its verdicts say 4
    wrong = _demo_judgment(["violated"] * 4, 1)
    good = {"key": "a", "gold": 3, "prompt": [], "samples": [miscount, right, wrong, miscount]}
    only_bad = {"key": "b", "gold": 3, "prompt": [], "samples": [miscount, wrong]}
    cfg = CurationConfig(strategy="gold", min_gap=2, pairs_per_input=4, balance="none", consistency="constraint-count")
    pairs, stats = curate([good, only_bad], cfg, seed=0)
    assert {p["chosen_index"] for p in pairs} == {1} and {p["key"] for p in pairs} == {"a"}
    assert stats["inputs_without_pairs"] == {"no_consistent_chosen": 1} and stats["n_on_label_samples_inconsistent"] == 3
    plain, plain_stats = curate([good, only_bad], CurationConfig(strategy="gold", min_gap=2, pairs_per_input=4, balance="none"), seed=0)
    assert {p["key"] for p in plain} == {"a", "b"} and "n_on_label_samples_inconsistent" not in plain_stats
    assert pair_status(only_bad, cfg) == "no_consistent_chosen" and pair_status(good, cfg) is None
    rows, rs = rejection_sampling_examples([good, only_bad], 4, 0, consistency="constraint-count")
    assert [r["completion"][0]["content"].startswith(right["rationale"]) for r in rows] == [True]
    assert rejection_sampling_examples([good, only_bad], 4, 0)[1]["n_examples"] == 3  # distinct texts per input, no check
    with pytest.raises(ConfigError, match="curation.consistency must be empty or one of"):
        TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"consistency": "nope"}})
    assert TrainConfig.from_dict({"model": {"name_or_path": "m"}}).fingerprint() != TrainConfig.from_dict(
        {"model": {"name_or_path": "m"}, "curation": {"consistency": "constraint-count"}}).fingerprint()


def test_inconsistent_rejected_preference_contrasts_evidence_following_with_contradicting_it():
    """Gold 3, one pair per input: with ``rejected_preference: inconsistent`` the rejected judgment
    is the one whose stated 5 contradicts its own count (3) on every input, a consistent wrong one
    only where no inconsistent one exists; "any" (the paper's) picks either. Counted in the stats."""
    right = _demo_judgment(["met", "met", "violated", "violated"], 3)
    wrong_consistent = _demo_judgment(["violated"] * 4, 1)
    wrong_inconsistent = _demo_judgment(["met", "met", "violated", "violated"], 5)  # its verdicts say 3
    records = [{"key": f"k{i}", "gold": 3, "prompt": [], "samples": [right, wrong_consistent, wrong_inconsistent]}
               for i in range(12)]
    records.append({"key": "only-consistent", "gold": 3, "prompt": [], "samples": [right, wrong_consistent]})

    def cfg(preference: str) -> CurationConfig:
        return CurationConfig(strategy="gold", min_gap=2, pairs_per_input=1, balance="none",
                              consistency="constraint-count", rejected_preference=preference)

    preferred, stats = curate(records, cfg("inconsistent"), seed=0)
    assert {p["key"]: p["rejected_index"] for p in preferred} == {**{f"k{i}": 2 for i in range(12)}, "only-consistent": 1}
    assert [p["rejected_consistent"] for p in preferred] == [False] * 12 + [True]
    assert stats["n_pairs_rejected_inconsistent"] == 12 and stats["rejected_preference"] == "inconsistent"
    plain, plain_stats = curate(records, cfg("any"), seed=0)
    assert {p["rejected_index"] for p in plain} == {1, 2} and plain_stats["n_pairs_rejected_inconsistent"] < 12
    assert [(p["chosen_index"], p["key"]) for p in plain] == [(p["chosen_index"], p["key"]) for p in preferred]
    with pytest.raises(ValueError, match="needs curation.consistency"):
        curate(records, CurationConfig(strategy="gold", rejected_preference="inconsistent"), seed=0)
    with pytest.raises(ConfigError, match="rejected_preference=inconsistent needs curation.consistency"):
        TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"rejected_preference": "inconsistent"}})
    with pytest.raises(ConfigError, match="rejected_preference must be any or inconsistent"):
        TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"rejected_preference": "worst"}})
    evidence = {"model": {"name_or_path": "m"}, "curation": {"consistency": "constraint-evidence"}}
    fingerprints = {pref: TrainConfig.from_dict({**evidence, "curation": {**evidence["curation"], "rejected_preference": pref}})
                    .fingerprint() for pref in ("any", "inconsistent")}
    # a run started before the option existed (fingerprint computed at commit a5b2fe6) still resumes
    assert fingerprints["any"] == "75091590fd3db21c" != fingerprints["inconsistent"]


def test_full_fine_tuning_in_low_precision_weights_is_flagged(tmp_path, caplog, monkeypatch):
    """Without FSDP/DeepSpeed the optimizer updates bfloat16 weights in bfloat16 (small steps round
    away): warned. float16 has no loss scaling: refused. LoRA and float32 weights: silent."""
    pytest.importorskip("torch")
    from selfrat_eval.training.trainer_args import common_args

    def args(dtype: str, lora: bool) -> dict:
        cfg = TrainConfig.from_dict({"model": {"name_or_path": "m", "dtype": dtype}, "lora": {"enabled": lora}, "use_cpu": True})
        return common_args(cfg.dpo, tmp_path, cfg, seed=0)

    for flag in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"):
        monkeypatch.delenv(flag, raising=False)
    with caplog.at_level("WARNING", logger="selfrat_eval.training.trainer_args"):
        args("float32", lora=False)
        args("bfloat16", lora=True)
        assert not caplog.records
        assert args("bfloat16", lora=False)["bf16"] is True
        assert "full fine-tuning with torch.bfloat16 weights" in caplog.text
    with pytest.raises(ConfigError, match="float16: full fine-tuning runs without loss scaling"):
        args("float16", lora=False)
    caplog.clear()
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # FSDP keeps float32 master weights
    with caplog.at_level("WARNING", logger="selfrat_eval.training.trainer_args"):
        args("bfloat16", lora=False)
    assert not caplog.records


def _constraint_judgment(verdicts: list[str], score: int) -> dict:
    """A judgment in the demo's clause format (real labels, so verdict contrasts can be read)."""
    labels = ["Item count: A, B = 2, asked 2", "No 'calm': absent", "Capitals: A, B", "Periods: '.', '.'"]
    clauses = " ".join(f"{label} ({v})." for label, v in zip(labels, verdicts, strict=True))
    return {"score": score, "rationale": f"{clauses} {verdicts.count('met')} of 4 met, so the score is {score}.",
            "text": "", "error": None}


def test_contrast_balancing_drops_pairs_until_each_verdict_kind_is_raised_as_often_as_lowered():
    """Gold 3. Eight inputs pair a chosen "count met, exclude met" judgment with a rejected one that
    calls both violated; three inputs contrast the same two kinds the other way. Unbalanced, DPO
    would see "met" raised 8 times and lowered 3 times for both kinds; balanced, five of the eight
    are dropped (seeded, reproducible) and the rest of curation is untouched."""
    x_chosen, x_rejected = _constraint_judgment(["met", "met", "violated", "violated"], 3), _constraint_judgment(["violated"] * 4, 1)
    y_chosen, y_rejected = _constraint_judgment(["violated", "violated", "met", "met"], 3), _constraint_judgment(["met"] * 4, 5)
    records = [{"key": f"x{i}", "gold": 3, "prompt": [], "samples": [x_chosen, x_rejected]} for i in range(8)]
    records += [{"key": f"y{i}", "gold": 3, "prompt": [], "samples": [y_chosen, y_rejected]} for i in range(3)]

    def cfg(balance_contrasts: str | None) -> CurationConfig:
        return CurationConfig(strategy="gold", min_gap=2, balance="none", balance_contrasts=balance_contrasts)

    plain, plain_stats = curate(records, cfg(None), seed=0)
    balanced, stats = curate(records, cfg("constraint-verdicts"), seed=0)
    assert len(plain) == 11 and "contrasts" not in plain[0] and "balance_contrasts" not in plain_stats
    assert {p["key"]: p["contrasts"] for p in balanced if p["key"].startswith("y")} == {
        f"y{i}": ["count:violated", "exclude:violated"] for i in range(3)}
    assert sum(p["key"].startswith("x") for p in balanced) == 3 and len(balanced) == 6
    assert stats["contrasts_by_kind_before_balance"] == {"count": {"met": 8, "violated": 3}, "exclude": {"met": 8, "violated": 3}}
    assert stats["contrasts_by_kind"] == {"count": {"met": 3, "violated": 3}, "exclude": {"met": 3, "violated": 3}}
    assert (stats["contrast_imbalance_before"], stats["contrast_imbalance"]) == (10, 0)
    assert stats["n_pairs_before_contrast_balance"] == 11 and stats["n_pairs"] == 6
    kept = [p["key"] for p in balanced]
    assert kept == [p["key"] for p in curate(records, cfg("constraint-verdicts"), seed=0)[0]]  # seeded
    assert kept == sorted(kept, key=[r["key"] for r in records].index)  # input order kept
    assert {tuple(p["key"] for p in curate(records, cfg("constraint-verdicts"), seed=s)[0]) for s in range(6)} != {tuple(kept)}
    with pytest.raises(ConfigError, match="balance_contrasts must be one of"):
        TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"balance_contrasts": "verdicts"}})
    on = TrainConfig.from_dict({"model": {"name_or_path": "m"}, "curation": {"balance_contrasts": "constraint-verdicts"}})
    assert on.fingerprint() != TrainConfig.from_dict({"model": {"name_or_path": "m"}}).fingerprint()


def test_balance_contrasts_keeps_pairs_without_contrasts_and_evens_what_dropping_can():
    from selfrat_eval.training.contrasts import balance_contrasts, imbalance, lean

    pairs = ([{"id": f"v{i}", "contrasts": ["exclude:violated"]} for i in range(10)]
             + [{"id": f"m{i}", "contrasts": ["exclude:met"]} for i in range(4)]
             + [{"id": f"b{i}", "contrasts": ["exclude:violated", "include:met"]} for i in range(3)]
             + [{"id": f"i{i}", "contrasts": ["include:violated"]} for i in range(3)]
             + [{"id": "same", "contrasts": []}, {"id": "unknown", "contrasts": None}])
    kept = balance_contrasts(pairs, seed=1)
    ids = [p["id"] for p in kept]
    # evening exclude by dropping the two-kind pairs would unbalance include: the one-kind ones go
    assert lean(kept) == {"exclude": {"met": 4, "violated": 4}, "include": {"met": 3, "violated": 3}}
    assert {"same", "unknown", "b0", "b1", "b2"} <= set(ids) and len(kept) == len(pairs) - 9
    assert ids == [p["id"] for p in pairs if p["id"] in set(ids)]
    assert (imbalance(pairs), imbalance(kept)) == (9, 0)
    one_way = [{"id": i, "contrasts": ["count:met"]} for i in range(3)]
    assert balance_contrasts(one_way, seed=0) == []  # a kind raised one way only is all prior


def test_error_contrasts_name_the_rejected_judgments_wrong_verdicts_against_the_reference(caplog):
    """``constraint-errors`` reads the input's reference rationale, not the chosen judgment: a chosen
    judgment with a wrong verdict of its own does not hide the rejected one's errors."""
    reference = _constraint_judgment(["met", "met", "violated", "violated"], 3)["rationale"]
    chosen = _constraint_judgment(["met", "violated", "met", "violated"], 3)  # gold score, two wrong verdicts
    rejected = _constraint_judgment(["violated"] * 4, 1)  # count and exclude wrong
    records = [{"key": "k", "gold": 3, "prompt": [], "samples": [chosen, rejected]}]
    cfg = CurationConfig(strategy="gold", balance="none", balance_contrasts="constraint-errors")
    pairs, stats = curate(records, cfg, seed=0, references={"k": reference})
    assert pairs == [] and stats["contrasts_by_kind_before_balance"] == {"count": {"met": 1}, "exclude": {"met": 1}}
    # a kind pushed one way only is all prior: k is dropped until an input pushes it back
    records.append({"key": "j", "gold": 3, "prompt": [], "samples": [chosen, _constraint_judgment(["met"] * 4, 5)]})
    other = _constraint_judgment(["violated", "violated", "met", "met"], 3)["rationale"]
    pairs, stats = curate(records, cfg, seed=0, references={"k": reference, "j": other})
    assert [p["key"] for p in pairs] == ["k", "j"] and pairs[1]["contrasts"] == ["count:violated", "exclude:violated"]
    assert stats["contrasts_by_kind"] == {"count": {"met": 1, "violated": 1}, "exclude": {"met": 1, "violated": 1}}
    with caplog.at_level("WARNING", logger="selfrat_eval.training.curation"):
        unknown, stats = curate(records, cfg, seed=0)  # no references: contrasts unknown, pairs kept
    assert [p["contrasts"] for p in unknown] == [None, None] and stats["n_pairs_contrasts_unknown"] == 2
    assert "could read no pair's contrasts" in caplog.text
    from selfrat_eval.training.contrasts import contrast_function

    by_verdicts = contrast_function("constraint-verdicts")
    assert by_verdicts(chosen["rationale"], rejected["rationale"], reference) == ["count:met", "capital:met"]  # chosen vs rejected
    assert by_verdicts(chosen["rationale"], rejected["rationale"], None) == ["count:met", "capital:met"]
    with pytest.raises(ValueError, match="unknown contrast function"):
        contrast_function("verdicts")


def test_loss_token_weights_compare_the_nll_mean_with_the_dpo_sum_per_chosen_token():
    from selfrat_eval.training.dpo import loss_token_weights

    # beta 0.1 gives each token 0.05 from sigmoid DPO; nll_alpha 1 over 100-token judgments gives 0.01
    w = loss_token_weights(0.1, 1.0, "sigmoid", [90, 110])
    assert w["mean_chosen_tokens"] == 100 and w["dpo_per_token"] == 0.05
    assert w["nll_per_token"] == pytest.approx(0.01) and w["nll_over_dpo"] == pytest.approx(0.2)
    assert loss_token_weights(0.1, 5.0, "sigmoid", [100])["nll_over_dpo"] == pytest.approx(1.0)  # beta * L / 2
    # no NLL term, or a loss whose per-token weight is not beta / 2: no ratio rather than a wrong one
    assert loss_token_weights(0.1, 0.0, "sigmoid", [100])["nll_over_dpo"] is None
    ipo = loss_token_weights(0.1, 1.0, "ipo", [100])
    assert ipo["dpo_per_token"] is None and ipo["nll_over_dpo"] is None and ipo["nll_per_token"] == pytest.approx(0.01)
