"""Runner core with a fake backend: cache hits, resume after a kill, re-sampling, strategies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_runner import FakeBackend, write_custom_data, write_rewardbench_data

from selfrat_eval.generation.base import GREEDY, Sample, SamplingConfig
from selfrat_eval.parsing import parse_judgment
from selfrat_eval.runner.cache import GenerationCache, generation_key, model_fingerprint
from selfrat_eval.runner.config import RunConfig
from selfrat_eval.runner.engine import JudgedPrompt, JudgeEngine, JudgeRequest
from selfrat_eval.runner.evaluate import rewardbench_bootstrap, run_evaluation
from selfrat_eval.runner.strategies import decide_score, decide_verdict, load_scorer

SAMPLING = SamplingConfig(max_new_tokens=32)


def _cfg(tmp_path: Path, data: Path, **kw) -> RunConfig:
    base = dict(
        judge="fake",
        benchmark="custom",
        out=str(tmp_path / "run"),
        data=str(data),
        rubric="helpfulness",
        strategy="self-consistency",
        n=4,
        sampling=SAMPLING,
        cache_dir=str(tmp_path / "cache"),
        chunk_size=3,
        bootstrap=50,
        report=False,
        show_progress=False,
    )
    base.update(kw)
    return RunConfig(**base)


# ---- cache ---------------------------------------------------------------------------------------


def test_cache_roundtrip_and_partial_line(tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "c.jsonl", "m")
    k = cache.key("p", 2, 0, SAMPLING)
    cache.put_many([(k, [Sample("a", (-1.0,), "stop"), Sample("b", None, "length")])])
    with open(tmp_path / "c.jsonl", "a") as f:
        f.write('{"key": "half-writ')  # a run killed mid-write
    again = GenerationCache(tmp_path / "c.jsonl", "m")
    assert again.get(k) == [Sample("a", (-1.0,), "stop"), Sample("b", None, "length")]
    assert (tmp_path / "c.jsonl").read_text().endswith("\n")  # partial line cut off
    again.put_many([(again.key("q", 1, 0, SAMPLING), [Sample("c")])])
    assert len(GenerationCache(tmp_path / "c.jsonl", "m")) == 2


def test_key_covers_model_prompt_sampling_seed_n() -> None:
    base = generation_key("m", "p", 2, 0, SAMPLING)
    assert base == generation_key("m", "p", 2, 0, SamplingConfig(max_new_tokens=32))
    others = [
        generation_key("m2", "p", 2, 0, SAMPLING),
        generation_key("m", "p2", 2, 0, SAMPLING),
        generation_key("m", "p", 3, 0, SAMPLING),
        generation_key("m", "p", 2, 1, SAMPLING),
        generation_key("m", "p", 2, 0, SamplingConfig(max_new_tokens=32, temperature=0.5)),
        generation_key("m", [{"role": "user", "content": "p"}], 2, 0, SAMPLING),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_fingerprint_changes_when_weights_change(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    before = model_fingerprint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"xy")
    assert model_fingerprint(tmp_path) != before
    assert model_fingerprint("org/hub-model") == ""


# ---- engine --------------------------------------------------------------------------------------


def test_engine_resamples_failures_with_new_deterministic_seeds(tmp_path: Path) -> None:
    backend = FakeBackend(fail_every=3)
    requests = [JudgeRequest(f"prompt {i}") for i in range(7)]
    engine = JudgeEngine(
        backend, GenerationCache(None, "m"), chunk_size=4, max_retries=3, show_progress=False
    )
    out = engine.run(requests, n=4, sampling=SAMPLING, seed=1)
    assert [len(r.samples) for r in out] == [4] * 7
    stats = engine.stats
    assert stats.failed_first_pass > 0 and stats.resampled >= stats.failed_first_pass
    assert stats.failed_final == sum(r.n_failed for r in out) < stats.failed_first_pass
    assert sum(r.resampled for r in out) == stats.resampled
    first_pass_seeds = {c["seed"] for c in backend.calls if c["n"] == 4}
    retry_seeds = {c["seed"] for c in backend.calls if c["n"] != 4 or c["seed"] not in first_pass_seeds}
    assert len(first_pass_seeds) == 2 and retry_seeds and not (retry_seeds & first_pass_seeds)
    # deterministic: a second engine gives the same judgments
    again = JudgeEngine(
        FakeBackend(fail_every=3),
        GenerationCache(None, "m"),
        chunk_size=4,
        max_retries=3,
        show_progress=False,
    )
    assert [r.samples for r in again.run(requests, n=4, sampling=SAMPLING, seed=1)] == [
        r.samples for r in out
    ]


def test_engine_without_retries_counts_failures(tmp_path: Path) -> None:
    engine = JudgeEngine(
        FakeBackend(fail_every=2),
        GenerationCache(None, "m"),
        chunk_size=8,
        max_retries=0,
        show_progress=False,
    )
    out = engine.run([JudgeRequest(f"p{i}") for i in range(6)], n=4, sampling=SAMPLING, seed=0)
    assert engine.stats.resampled == 0
    assert engine.stats.failed_final == engine.stats.failed_first_pass == sum(r.n_failed for r in out) > 0


def test_greedy_retries_sample(tmp_path: Path) -> None:
    backend = FakeBackend(fail_every=2)
    engine = JudgeEngine(
        backend, GenerationCache(None, "m"), chunk_size=8, max_retries=2, show_progress=False
    )
    engine.run([JudgeRequest(f"p{i}") for i in range(6)], n=1, sampling=GREEDY, seed=0)
    assert engine.stats.resampled > 0  # greedy re-runs would repeat themselves: retries sample instead


# ---- strategies ----------------------------------------------------------------------------------


def _jp(texts: list[str], lps: list[float], mode: str = "absolute") -> JudgedPrompt:
    samples = [Sample(t, (lp,), "stop") for t, lp in zip(texts, lps, strict=True)]
    return JudgedPrompt(samples, [parse_judgment(t, mode=mode) for t in texts])


def test_strategies_pointwise() -> None:
    jp = _jp(
        ["a [RESULT] 2", "b [RESULT] 4", "junk", "c [RESULT] 4", "d [RESULT] 5"],
        [-0.5, -2.0, -0.1, -1.0, -3.0],
    )
    assert decide_score(jp, "greedy").score == 2.0
    sc = decide_score(jp, "self-consistency", sc_method="majority")
    assert sc.score == 4.0 and sc.n_failed == 1 and sc.n_valid == 4
    assert decide_score(jp, "self-consistency", sc_method="mean").score == pytest.approx(15 / 4)
    assert decide_score(jp, "self-consistency", sc_method="median").score == 4.0
    best = decide_score(jp, "best-of-n", select_by="logprob")
    assert best.selected == 0 and best.score == 2.0  # the failed sample (-0.1) is never chosen
    scored = decide_score(jp, "best-of-n", select_by="scorer", scorer=lambda j: float(j.score))
    assert scored.selected == 4 and scored.score == 5.0
    all_failed = _jp(["x", "y"], [-1, -1])
    assert decide_score(all_failed, "self-consistency").score is None
    assert decide_score(all_failed, "best-of-n").score is None
    no_lp = JudgedPrompt([Sample("a [RESULT] 2")], [parse_judgment("a [RESULT] 2")])
    with pytest.raises(ValueError, match="log-probs"):
        decide_score(no_lp, "best-of-n", select_by="logprob")


def test_strategies_pairwise() -> None:
    jp = _jp(["x [RESULT] A", "y [RESULT] B", "z [RESULT] A", "?"], [-3, -0.5, -2, -0.1], mode="relative")
    assert decide_verdict(jp, "greedy").verdict.verdict == "A"
    assert decide_verdict(jp, "self-consistency").verdict.verdict == "A"
    assert decide_verdict(jp, "best-of-n").verdict.verdict == "B"
    tie = _jp(["x [RESULT] A", "y [RESULT] B"], [-1, -1], mode="relative")
    assert not decide_verdict(tie, "self-consistency").verdict.ok


def test_load_scorer() -> None:
    fn = load_scorer("math:fabs")
    assert fn(-2.0) == 2.0
    with pytest.raises(ValueError, match="module:function|cannot import"):
        load_scorer("nonexistent_module_xyz:f")
    with pytest.raises(ValueError):
        load_scorer("no-colon")


def test_rewardbench_bootstrap_brackets_point_estimate() -> None:
    outcomes = [1.0] * 30 + [0.0] * 10 + [1.0, 0.5] * 10
    subsets = ["alpacaeval-easy"] * 40 + ["mt-bench-hard"] * 20
    ci = rewardbench_bootstrap(outcomes, subsets, n_resamples=200, seed=0)
    assert set(ci) == {"Chat", "Chat Hard", "overall"}
    assert ci["Chat"][0] < 0.75 < ci["Chat"][1]
    assert ci == rewardbench_bootstrap(outcomes, subsets, n_resamples=200, seed=0)


# ---- whole runs with the fake backend ------------------------------------------------------------


def test_other_aggregation_reuses_generations(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=10)
    backend = FakeBackend()
    first = run_evaluation(_cfg(tmp_path, data, sc_method="majority"), backend)
    calls = len(backend.calls)
    assert first["generation"]["cache_misses"] == 10 and calls > 0
    second = run_evaluation(_cfg(tmp_path, data, sc_method="mean", out=str(tmp_path / "run2")), backend)
    assert len(backend.calls) == calls  # nothing regenerated
    assert second["generation"]["cache_hits"] == 10 and second["generation"]["cache_misses"] == 0
    assert [i["judgments"] for i in first["items"]] == [i["judgments"] for i in second["items"]]
    assert second["config"]["sc_method"] == "mean"
    # best-of-n on the same generations: still no new calls
    run_evaluation(_cfg(tmp_path, data, strategy="best-of-n", out=str(tmp_path / "run3")), backend)
    assert len(backend.calls) == calls
    # another seed is another generation
    run_evaluation(_cfg(tmp_path, data, seed=5, out=str(tmp_path / "run4")), backend)
    assert len(backend.calls) > calls


def test_resume_after_kill_loses_nothing(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=11)
    reference = run_evaluation(
        _cfg(tmp_path, data, cache_dir=str(tmp_path / "ref-cache"), out=str(tmp_path / "ref")), FakeBackend()
    )

    class Killed(RuntimeError):
        pass

    def kill_after_two(chunk: int) -> None:
        if chunk == 1:
            raise Killed

    killed_backend = FakeBackend()
    with pytest.raises(Killed):
        run_evaluation(_cfg(tmp_path, data), killed_backend, after_chunk=kill_after_two)
    generated_before = sum(c["n_prompts"] for c in killed_backend.calls if c["n"] == 4)
    assert generated_before == 6  # chunks 0 and 1 (3 prompts each) were flushed
    resumed_backend = FakeBackend()
    resumed = run_evaluation(_cfg(tmp_path, data), resumed_backend)
    assert resumed["generation"]["cache_hits"] >= 6
    first_pass = [c for c in resumed_backend.calls if c["n"] == 4]
    assert sum(c["n_prompts"] for c in first_pass) == 11 - 6  # only the rest was generated
    assert resumed["items"] == reference["items"]
    assert resumed["metrics"] == reference["metrics"]


def test_results_json_contents(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=12)
    res = run_evaluation(_cfg(tmp_path, data, max_retries=2), FakeBackend(fail_every=3))
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk == res
    m = res["metrics"]
    assert m["kind"] == "pointwise" and m["n"] == 12 and 0 < m["parse_rate"] <= 1
    assert set(m["groups"]) == {"even", "odd"} and m["group_key"] == "group"
    assert "ci" in m["pooled"] and len(m["pooled"]["ci"]["pearson"]) == 2
    assert sum(map(sum, m["confusion_matrix"])) == m["pooled"]["n_valid"]
    assert res["data"]["revision"].startswith("sha256:") and res["data"]["n_items"] == 12
    gen = res["generation"]
    assert gen["resampled"] > 0 and gen["failed_after_retries"] <= gen["failed_first_pass"]
    assert gen["resampled"] == sum(i["resampled"] for i in res["items"])
    item = res["items"][0]
    assert {"id", "gold", "pred", "groups", "judgments", "n_failed", "resampled"} <= set(item)
    assert len(item["judgments"]) == 4 and {"text", "value", "error", "mean_logprob"} <= set(
        item["judgments"][0]
    )
    assert res["config"]["sampling"]["max_new_tokens"] == 32
    # a failed item is None, never a default score
    for it in res["items"]:
        assert it["pred"] is None or 1 <= it["pred"] <= 5
        if it["n_valid"] == 0:
            assert it["pred"] is None


def test_rewardbench_pointwise_and_pairwise(tmp_path: Path) -> None:
    data = write_rewardbench_data(tmp_path / "rb.jsonl", n=8)
    backend = FakeBackend(fail_every=5)
    point = run_evaluation(
        _cfg(tmp_path, data, benchmark="rewardbench", rubric=None, strategy="greedy"), backend
    )
    m = point["metrics"]
    assert m["kind"] == "rewardbench" and set(m["sections"]) == {
        "Chat",
        "Chat Hard",
        "Safety",
        "Reasoning",
        "overall",
    }
    assert point["generation"]["n_prompts"] == 16 and {"chosen", "rejected"} <= set(point["items"][0])
    for it in point["items"]:
        c, r = it["chosen"]["pred"], it["rejected"]["pred"]
        expected = 0.5 if c is None or r is None or c == r else float(c > r)
        assert it["outcome"] == expected
    pair = run_evaluation(
        _cfg(
            tmp_path, data, benchmark="rewardbench", rubric=None, mode="pairwise", out=str(tmp_path / "pair")
        ),
        backend,
    )
    prompts = [p for c in backend.calls for p in c["prompts"]]
    assert any("###Response B:" in (p if isinstance(p, str) else json.dumps(p)) for p in prompts)
    for it in pair["items"]:
        v1, v2 = it["chosen_first"]["verdict"], it["chosen_second"]["verdict"]
        expected = 1.0 if (v1, v2) == ("A", "B") else 0.0 if (v1, v2) == ("B", "A") else 0.5
        assert it["outcome"] == expected
    assert pair["metrics"]["mode"] == "pairwise"


def test_config_validation(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=2)
    with pytest.raises(ValueError, match="n >= 2"):
        _cfg(tmp_path, data, n=1)
    with pytest.raises(ValueError, match="pairwise"):
        _cfg(tmp_path, data, mode="pairwise")
    with pytest.raises(ValueError, match="--data"):
        RunConfig(judge="fake", benchmark="custom", out=str(tmp_path / "x"))
    with pytest.raises(ValueError, match="temperature"):
        _cfg(tmp_path, data, sampling=GREEDY)
    greedy = _cfg(tmp_path, data, strategy="greedy", n=8)
    assert greedy.n == 1 and greedy.sampling.greedy
