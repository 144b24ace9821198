"""End to end: the real ``lm_eval`` CLI, offline, on a tiny random Llama, for the task families and
strategies, found through the start-up hook (no --include_path); and the ``selfrat-judge`` wrapper's
log-probs on a real hf model. (Cross-front-end number parity is tests/test_parity.py.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from helpers_lm_eval import lm_eval_exe, read_results, run, write_fixtures  # noqa: E402

from selfrat_eval.protocols import BenchmarkOptions, get_protocol  # noqa: E402

pytestmark = pytest.mark.slow

POINTWISE = (
    "pearson",
    "spearman",
    "kendall",
    "accuracy",
    "mae",
    "parse_rate",
    "n_failed",
    "sample_parse_rate",
)
PAIRED = ("score", "accuracy", "parse_rate", "sample_parse_rate")


def _lm_eval(args: list[str], out: Path) -> dict:
    proc = run(
        [lm_eval_exe(), "run", *args, "--device", "cpu", "--output_path", str(out), "--log_samples"],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return read_results(out)


def _samples(out: Path, task: str) -> list[dict]:
    files = sorted(out.rglob(f"samples_{task}_*.jsonl"))
    assert files, f"no samples for {task}"
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def _check(res: dict, names: tuple[str, ...], filt: str = "none") -> dict[str, float]:
    values = {n: res[f"{n},{filt}"] for n in names}
    for rate in ("parse_rate", "sample_parse_rate"):
        assert 0.0 <= values[rate] <= 1.0
    return values


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_fixtures(tmp_path_factory.mktemp("lm-eval-cli-data"))


def _meta(data: dict[str, Path], **extra) -> str:
    return json.dumps({f"{k}_data": str(v) for k, v in data.items()} | extra)


def test_hf_group_and_self_consistency(tiny_model_dir: Path, data: dict[str, Path], tmp_path: Path):
    limit = 3
    results = _lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model_dir},dtype=float32",
            "--tasks",
            "selfrat,selfrat_biggen_sc,selfrat_rewardbench_sc",
            "--limit",
            str(limit),
            "--gen_kwargs",
            "max_gen_toks=8",
            "--metadata",
            _meta(data, n=2),
        ],
        tmp_path,
    )
    assert set(results["group_subtasks"]["selfrat"]) == {
        "selfrat_biggen",
        "selfrat_feedback_bench",
        "selfrat_rewardbench",
    }
    res = results["results"]
    for task in ("selfrat_biggen", "selfrat_feedback_bench"):
        v = _check(res[task], POINTWISE)
        # random weights: judgments do not parse; each failure is counted, none gets a score
        assert v["n_failed"] == round((1 - v["parse_rate"]) * limit)
        assert results["n-samples"][task]["effective"] == limit
    assert "pearson_planning,none" in res["selfrat_biggen"]
    v = _check(res["selfrat_rewardbench"], PAIRED)
    assert 0.0 <= v["score"] <= 1.0 and "chat,none" in res["selfrat_rewardbench"]
    sc = _check(res["selfrat_biggen_sc"], POINTWISE)
    assert sc["n_failed"] <= limit
    _check(res["selfrat_rewardbench_sc"], PAIRED)

    # N sampled judgments per request reach the protocol (both A/B orders for RewardBench)
    for sample in _samples(tmp_path, "selfrat_rewardbench_sc"):
        assert [len(r) for r in sample["resps"]] == [2, 2]
        assert sample["score"]["n_draws"] == 4
    assert results["configs"]["selfrat_rewardbench_sc"]["repeats"] == 2
    # plain-text prompt (no chat template) = JudgePrompt.text(): system, blank line, user message
    first = _samples(tmp_path, "selfrat_feedback_bench")[0]
    protocol = get_protocol("feedback_bench", BenchmarkOptions(data=str(data["feedback_bench"])))
    item = protocol.load().items[first["doc_id"]]
    assert first["arguments"]["gen_args_0"]["arg_0"] == protocol.requests(item)[0].prompt.text()
    # judge defaults from the protocol: no stop at blank lines, greedy; --gen_kwargs overrides max_gen_toks
    config = results["configs"]["selfrat_feedback_bench"]["generation_kwargs"]
    assert config["until"] == [] and config["max_gen_toks"] == 8 and config["do_sample"] is False
    sc_config = results["configs"]["selfrat_biggen_sc"]["generation_kwargs"]
    assert sc_config["do_sample"] is True and sc_config["temperature"] == 1.0 and sc_config["top_p"] == 0.9


def test_judge_wrapper_with_chat_template(tiny_model_dir: Path, data: dict[str, Path], tmp_path: Path):
    limit = 2
    results = _lm_eval(
        [
            "--model",
            "selfrat-judge",
            "--model_args",
            f"base=hf,pretrained={tiny_model_dir},dtype=float32",
            "--tasks",
            "selfrat_feedback_bench_bon,selfrat_rewardbench_es",
            "--limit",
            str(limit),
            "--gen_kwargs",
            "max_gen_toks=8",
            "--apply_chat_template",
            "--system_instruction",
            "Be strict.",
            "--metadata",
            _meta(data, n=2),
        ],
        tmp_path,
    )
    res = results["results"]
    v = _check(res["selfrat_feedback_bench_bon"], POINTWISE)
    assert v["n_failed"] == round((1 - v["parse_rate"]) * limit)
    es = _check(res["selfrat_rewardbench_es"], PAIRED)
    # expected-score reads the verdict probabilities through hf loglikelihood: every request decided
    assert es["parse_rate"] == 1.0 and res["selfrat_rewardbench_es"]["n_forced,none"] >= 0
    pair = _samples(tmp_path, "selfrat_rewardbench_es")[0]
    protocol = get_protocol("rewardbench", BenchmarkOptions(data=str(data["rewardbench"])))
    item = protocol.load().items[pair["doc_id"]]
    first, second = protocol.requests(item)
    ctx_a, ctx_b = pair["arguments"]["gen_args_0"]["arg_0"], pair["arguments"]["gen_args_1"]["arg_0"]
    assert ctx_a.startswith(f"<|im_start|>system\nBe strict.\n\n{first.prompt.system}<|im_end|>\n<|im_start|>user\n")
    assert first.prompt.user in ctx_a and second.prompt.user in ctx_b
    assert ctx_a.endswith("<|im_start|>assistant\n")


@pytest.mark.shared_data
def test_rewardbench_chat_slice_from_shared_data(
    tiny_model_dir: Path, rewardbench_chat_file: Path, tmp_path: Path
):
    results = _lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model_dir},dtype=float32",
            "--tasks",
            "selfrat_rewardbench",
            "--limit",
            "2",
            "--gen_kwargs",
            "max_gen_toks=4",
            "--metadata",
            json.dumps({"data": str(rewardbench_chat_file), "sections": ["Chat"]}),
        ],
        tmp_path,
    )
    res = results["results"]["selfrat_rewardbench"]
    assert results["n-samples"]["selfrat_rewardbench"]["original"] == 358  # the Chat section
    assert "chat,none" in res and "chat_hard,none" not in res
    assert 0.0 <= res["score,none"] <= 1.0 and not math.isnan(res["score,none"])


def test_judge_model_attaches_real_hf_logprobs(tiny_model_dir: Path, data: dict[str, Path]):
    """best-of-N: the mean log-prob of each judgment is the base model's loglikelihood per token;
    expected-score: the verdict log-probs at the scoring point, one per level."""
    from lm_eval.api.instance import Instance
    from lm_eval.api.registry import get_model

    from selfrat_eval.lm_eval_plugin.data import TaskSpec, build_docs

    judge = get_model("selfrat-judge").create_from_arg_string(
        f"base=hf,pretrained={tiny_model_dir},dtype=float32,device=cpu"
    )
    gen = {"until": [], "max_gen_toks": 6, "do_sample": True, "temperature": 1.0, "top_p": 0.9}
    for strategy in ("best-of-n", "expected-score"):
        spec = TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "selfrat_strategy": strategy, "data": str(data["feedback_bench"])})
        doc = build_docs(spec)[0]
        req = Instance(request_type="generate_until", doc=doc, arguments=("###Feedback: ", gen), idx=0)
        out = judge.generate_until([req])[0]
        if strategy == "best-of-n":
            ll, _ = judge.loglikelihood(
                [Instance(request_type="loglikelihood", doc={}, arguments=("###Feedback: ", str(out)), idx=0)]
            )[0]
            assert out.mean_logprob == pytest.approx(ll / len(judge.tok_encode(str(out))), abs=1e-5)
        else:
            assert set(out.score_logprobs) == {"1", "2", "3", "4", "5"}
            assert all(lp < 0 for lp in out.score_logprobs.values())
            assert out.forced == ("[RESULT]" not in str(out))
    # non-judge docs pass through untouched
    plain = Instance(request_type="generate_until", doc={"q": 1}, arguments=("Hello", gen), idx=0)
    assert not hasattr(judge.generate_until([plain])[0], "mean_logprob")


def test_bad_options_fail_clearly(data: dict[str, Path]):
    from selfrat_eval.lm_eval_plugin.data import TaskSpec

    with pytest.raises(ValueError, match="mode must be pointwise"):
        TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "mode": "pairwise"})
    with pytest.raises(ValueError, match="strategy must be one of"):
        TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "selfrat_strategy": "vote"})
    with pytest.raises(ValueError, match="needs n >= 2"):
        TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "selfrat_strategy": "self-consistency", "n": 1})
    with pytest.raises(ValueError, match="unknown benchmark"):
        TaskSpec.from_metadata({"selfrat_benchmark": "mmlu"})
    with pytest.raises(ValueError, match="select_by=scorer needs an external scorer"):
        TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "selfrat_strategy": "best-of-n", "n": 4, "select_by": "scorer"})
    # --metadata is shared by every task of a run: n applies to the sampling strategies only
    spec = TaskSpec.from_metadata({"selfrat_benchmark": "feedback_bench", "n": 5})
    assert spec.strategy.samples == 1
