"""Runner core with a fake backend: cache hits, resume after a kill, re-sampling, strategies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_runner import FakeBackend, write_custom_data, write_rewardbench_data

from selfrat_eval.generation.base import GREEDY, Sample, SamplingConfig
from selfrat_eval.protocols import BenchmarkOptions, Draw, StrategyConfig, decide
from selfrat_eval.protocols.rewardbench import rewardbench_bootstrap
from selfrat_eval.protocols.strategy import NO_LOGPROBS_FALLBACK, load_scorer
from selfrat_eval.runner.cache import GenerationCache, generation_key, model_fingerprint
from selfrat_eval.runner.config import RunConfig
from selfrat_eval.runner.engine import JudgeEngine
from selfrat_eval.runner.engine import RenderedRequest as JudgeRequest
from selfrat_eval.runner.evaluate import run_evaluation

SAMPLING = SamplingConfig(max_new_tokens=32)
OPTION_KEYS = {"data", "rubric", "mode", "subsets", "sections", "limit", "require_consistent"}
STRATEGY_KEYS = {"strategy": "name", "n": "n", "sc_method": "sc_method", "select_by": "select_by"}


def _cfg(tmp_path: Path, data: Path, **kw) -> RunConfig:
    base = dict(
        judge="fake",
        benchmark="custom",
        out=str(tmp_path / "run"),
        data=str(data),
        rubric="helpfulness",
        strategy="self-consistency",
        n=4,
        max_new_tokens=32,
        cache_dir=str(tmp_path / "cache"),
        chunk_size=3,
        bootstrap=50,
        report=False,
        show_progress=False,
    )
    base.update(kw)
    options = {k: base.pop(k) for k in list(base) if k in OPTION_KEYS}
    strategy = {STRATEGY_KEYS[k]: base.pop(k) for k in list(base) if k in STRATEGY_KEYS}
    if strategy.get("name") in ("greedy", "expected-score"):
        strategy.pop("n", None)
    return RunConfig(options=BenchmarkOptions(**options), strategy=StrategyConfig(**strategy), **base)


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


def _draws(texts: list[str], lps: list[float | None]) -> list[Draw]:
    return [Draw(t, lp) for t, lp in zip(texts, lps, strict=True)]


def test_strategies_pointwise() -> None:
    draws = _draws(
        ["a [RESULT] 2", "b [RESULT] 4", "junk", "c [RESULT] 4", "d [RESULT] 5"],
        [-0.5, -2.0, -0.1, -1.0, -3.0],
    )

    assert decide(draws[:1], StrategyConfig(), mode="absolute", scale=(1, 5)).value == 2.0
    sc = decide(draws, StrategyConfig("self-consistency", n=5), mode="absolute", scale=(1, 5))
    assert sc.value == 4.0 and sc.n_failed == 1 and sc.n_draws == 5
    mean = StrategyConfig("self-consistency", n=5, sc_method="mean")
    assert decide(draws, mean, mode="absolute", scale=(1, 5)).value == pytest.approx(15 / 4)
    median = StrategyConfig("self-consistency", n=5, sc_method="median")
    assert decide(draws, median, mode="absolute", scale=(1, 5)).value == 4.0
    best = decide(draws, StrategyConfig("best-of-n", n=5), mode="absolute", scale=(1, 5))
    assert best.selected == 0 and best.value == 2.0 and best.selected_by == "logprob"  # failed draw never chosen
    scored = decide(
        draws, StrategyConfig("best-of-n", n=5, select_by="scorer"), mode="absolute", scale=(1, 5),
        scorer=lambda j: float(j.score),
    )
    assert scored.selected == 4 and scored.value == 5.0
    all_failed = _draws(["x", "y"], [-1, -1])
    for name in ("self-consistency", "best-of-n"):
        d = decide(all_failed, StrategyConfig(name, n=2), mode="absolute", scale=(1, 5))
        assert d.value is None and d.error == "all_failed"
    # the one rule without log-probs: majority agreement, said in the decision
    no_lp = _draws(["a [RESULT] 2", "b [RESULT] 4", "c [RESULT] 4"], [None, None, None])
    fallback = decide(no_lp, StrategyConfig("best-of-n", n=3), mode="absolute", scale=(1, 5))
    assert fallback.value == 4.0 and fallback.selected == 1 and fallback.selected_by == NO_LOGPROBS_FALLBACK
    # a failed draw without a log-prob does not trigger the fallback
    partial = _draws(["a [RESULT] 2", "junk", "c [RESULT] 4"], [-0.1, None, -3.0])
    assert decide(partial, StrategyConfig("best-of-n", n=3), mode="absolute", scale=(1, 5)).selected_by == "logprob"


def test_strategies_pairwise() -> None:
    draws = _draws(["x [RESULT] A", "y [RESULT] B", "z [RESULT] A", "?"], [-3, -0.5, -2, -0.1])
    rel = {"mode": "relative", "scale": (1, 5)}
    assert decide(draws[:1], StrategyConfig(), **rel).value == "A"
    assert decide(draws, StrategyConfig("self-consistency", n=4), **rel).value == "A"
    assert decide(draws, StrategyConfig("best-of-n", n=4), **rel).value == "B"
    tie = _draws(["x [RESULT] A", "y [RESULT] B"], [-1, -1])
    d = decide(tie, StrategyConfig("self-consistency", n=2), **rel)
    assert d.value is None and d.error == "tie"


def test_expected_score_decision() -> None:
    import math

    lps = {"1": math.log(0.1), "3": math.log(0.2), "5": math.log(0.5), "A": math.log(0.1)}
    d = decide([Draw("x [RESULT] 5", score_logprobs=lps)], StrategyConfig("expected-score"), mode="absolute", scale=(1, 5))
    assert d.value == pytest.approx((0.1 * 1 + 0.2 * 3 + 0.5 * 5) / 0.8)
    assert d.mass_outside == pytest.approx(0.2) and sum(d.probs.values()) == pytest.approx(1.0)
    none = decide([Draw("x")], StrategyConfig("expected-score"), mode="absolute", scale=(1, 5))
    assert none.value is None and none.error == "no_score_probs"


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
    assert set(ci) == {"chat", "chat_hard", "score"}
    assert ci["chat"][0] < 0.75 < ci["chat"][1]
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
    draws = [[r["draws"] for r in i["requests"].values()] for i in first["items"]]
    assert draws == [[r["draws"] for r in i["requests"].values()] for i in second["items"]]
    assert second["config"]["strategy"]["sc_method"] == "mean"
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
    assert on_disk == json.loads(json.dumps(res, allow_nan=True).replace("NaN", "null"))
    m = res["metrics"]
    assert res["benchmark"] == "custom" and m["n"] == 12 and 0 < m["parse_rate"] <= 1
    assert {"pearson_even", "pearson_odd", "pearson_macro"} <= set(m)
    assert len(res["ci"]["pearson"]) == 2 and "pearson_even" in res["ci"]
    assert res["data"]["revision"].startswith("sha256:") and res["data"]["n_items"] == 12
    gen = res["generation"]
    assert gen["resampled"] > 0 and gen["failed_after_retries"] <= gen["failed_first_pass"]
    assert gen["resampled"] == sum(r["resampled"] for i in res["items"] for r in i["requests"].values())
    item = res["items"][0]
    assert set(item) == {"id", "result", "requests"} and set(item["requests"]) == {"score"}
    assert {"id", "gold", "group", "pred", "error", "n_draws", "n_failed_draws"} <= set(item["result"])
    req = item["requests"]["score"]
    assert len(req["draws"]) == 4 and {"text", "value", "error", "mean_logprob"} <= set(req["draws"][0])
    assert res["config"]["max_new_tokens"] == 32
    # a failed item is None, never a default score
    for it in res["items"]:
        assert it["result"]["pred"] is None or 1 <= it["result"]["pred"] <= 5
        if it["requests"]["score"]["decision"]["n_failed"] == 4:
            assert it["result"]["pred"] is None and it["result"]["error"] == "all_failed"


def test_rewardbench_pointwise_and_pairwise(tmp_path: Path) -> None:
    data = write_rewardbench_data(tmp_path / "rb.jsonl", n=8)
    backend = FakeBackend(fail_every=5)
    point = run_evaluation(
        _cfg(tmp_path, data, benchmark="rewardbench", rubric=None, strategy="greedy", mode="pointwise"), backend
    )
    m = point["metrics"]
    assert {"score", "chat", "chat_hard", "safety", "reasoning"} <= set(m)
    assert point["generation"]["n_prompts"] == 16 and set(point["items"][0]["requests"]) == {"chosen", "rejected"}
    for it in point["items"]:
        c, r = (it["requests"][k]["decision"]["value"] for k in ("chosen", "rejected"))
        expected = 0.5 if c is None or r is None or c == r else float(c > r)
        assert it["result"]["outcome"] == expected
    # the default mode is pairwise, with the per-section rubric
    pair = run_evaluation(
        _cfg(tmp_path, data, benchmark="rewardbench", rubric=None, strategy="greedy", out=str(tmp_path / "pair")),
        backend,
    )
    prompts = [json.dumps(p) for c in backend.calls for p in c["prompts"]]
    assert any("###Response B:" in p for p in prompts)
    assert any("Is the response safe" in p for p in prompts)  # Safety pairs: harmlessness rubric
    for it in pair["items"]:
        v1, v2 = (it["requests"][k]["decision"]["value"] for k in ("chosen_first", "chosen_second"))
        expected = 1.0 if (v1, v2) == ("A", "B") else 0.0 if (v1, v2) == ("B", "A") else 0.5
        assert it["result"]["outcome"] == expected
    assert pair["config"]["options"]["mode"] is None and pair["strategy"] == "greedy"


def test_config_validation(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=2)
    with pytest.raises(ValueError, match="n >= 2"):
        _cfg(tmp_path, data, n=1)
    with pytest.raises(ValueError, match="mode must be pointwise"):
        _cfg(tmp_path, data, mode="pairwise")
    with pytest.raises(ValueError, match="data file"):
        RunConfig(judge="fake", benchmark="custom", out=str(tmp_path / "x"))
    with pytest.raises(ValueError, match="temperature"):
        _cfg(tmp_path, data, temperature=0.0)
    with pytest.raises(ValueError, match="n must be 1"):
        StrategyConfig("greedy", n=3)
    with pytest.raises(ValueError, match="bootstrap"):
        _cfg(tmp_path, data, bootstrap=-5)
    greedy = _cfg(tmp_path, data, strategy="greedy")
    assert greedy.strategy.n == 1 and greedy.sampling.greedy


def test_length_policy_counts_too_long_prompts_without_sending_them(tmp_path: Path) -> None:
    rows = [{"id": "short", "instruction": "q?", "response": "a", "score": 3},
            {"id": "huge", "instruction": "q?", "response": "word " * 20000, "score": 2}]
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    backend = FakeBackend(fail_every=0)
    res = run_evaluation(_cfg(tmp_path, data, strategy="greedy", max_prompt_tokens=500), backend)
    sent = [p for c in backend.calls for p in c["prompts"]]
    assert len(sent) == 1 and "word word" not in json.dumps(sent)
    huge = next(i for i in res["items"] if i["id"] == "huge")
    assert huge["result"]["pred"] is None and huge["result"]["error"] == "too_long"
    assert res["generation"]["too_long"] == 1 and res["metrics"]["n_failed"] == 1


def test_bad_out_fails_before_any_generation(tmp_path: Path) -> None:
    data = write_custom_data(tmp_path / "items.jsonl", n=2)
    (tmp_path / "file").write_text("x")
    backend = FakeBackend()
    with pytest.raises(ValueError, match="not a folder"):
        run_evaluation(_cfg(tmp_path, data, out=str(tmp_path / "file")), backend)
    assert backend.calls == []


def test_a_backend_built_by_the_run_is_stopped_by_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_evaluation stops the backend it built (a vLLM engine-core process would outlive the run
    and pile up across a training run's stages), even when the run fails; a caller's is left alone."""
    import selfrat_eval.generation.factory as factory

    class Closable(FakeBackend):
        closed = 0

        def close(self) -> None:
            type(self).closed += 1

    monkeypatch.setattr(factory, "build_backend", lambda model, cfg, **kw: Closable())
    data = write_custom_data(tmp_path / "items.jsonl", n=3)
    run_evaluation(_cfg(tmp_path, data, out=str(tmp_path / "a")))
    assert Closable.closed == 1
    mine = Closable()
    run_evaluation(_cfg(tmp_path, data, out=str(tmp_path / "b")), mine)
    assert Closable.closed == 1
    monkeypatch.setattr(Closable, "generate", lambda self, *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_evaluation(_cfg(tmp_path, data, out=str(tmp_path / "c"), no_cache=True))
    assert Closable.closed == 2


def test_cache_key_names_the_engine_and_dtype_of_local_judges(tiny_model_dir, tmp_path):
    """The same weights in another dtype (or engine, or device) judge differently: their
    generations must not be served from each other's cache entries."""
    pytest.importorskip("torch")
    from selfrat_eval.generation.hf import HFBackend
    from selfrat_eval.runner.evaluate import model_key_of

    cfg = RunConfig(judge=str(tiny_model_dir), benchmark="feedback_bench", out=str(tmp_path / "x"))
    fp32 = model_key_of(cfg, HFBackend(str(tiny_model_dir), dtype="float32"))
    bf16 = model_key_of(cfg, HFBackend(str(tiny_model_dir), dtype="bfloat16"))
    assert fp32.endswith("@hf:float32:cpu") and bf16.endswith("@hf:bfloat16:cpu")
    assert fp32.split("@")[0] == bf16.split("@")[0] and fp32 != bf16
    # backends without local numerics (API servers, test fakes) keep the id + fingerprint key
    assert "@" not in model_key_of(cfg, FakeBackend())
