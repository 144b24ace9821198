"""End to end: the real ``lm_eval`` CLI, offline, on a tiny random Llama, for every task family and
the ``_sc`` / ``_bon`` variants, found through the start-up hook (no --include_path)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from helpers_lm_eval import lm_eval_exe, read_results, run, write_fixtures  # noqa: E402

from selfrat_eval.formats import absolute_prompt, relative_prompt  # noqa: E402
from selfrat_eval.loaders import load_feedback_bench, load_rewardbench  # noqa: E402
from selfrat_eval.rubric import get_rubric  # noqa: E402

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
    return json.dumps({f"{k}_path": str(v) for k, v in data.items()} | extra)


def test_hf_group_and_self_consistency(tiny_model_dir: Path, data: dict[str, Path], tmp_path: Path):
    limit = 3
    results = _lm_eval(
        [
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model_dir},dtype=float32",
            "--tasks",
            "selfrat,selfrat_biggen_sc,selfrat_rewardbench_pairwise_sc",
            "--limit",
            str(limit),
            "--gen_kwargs",
            "max_gen_toks=8",
            "--metadata",
            _meta(data, n_samples=2),
        ],
        tmp_path,
    )
    assert set(results["group_subtasks"]["selfrat"]) == {
        "selfrat_biggen",
        "selfrat_feedback_bench",
        "selfrat_rewardbench",
        "selfrat_rewardbench_pairwise",
    }
    res = results["results"]
    for task in ("selfrat_biggen", "selfrat_feedback_bench"):
        v = _check(res[task], POINTWISE)
        # random weights: judgments do not parse; each failure is counted, none gets a score
        assert v["n_failed"] == round((1 - v["parse_rate"]) * limit)
        assert results["n-samples"][task]["effective"] == limit
    assert "pearson_planning,none" in res["selfrat_biggen"]
    for task in ("selfrat_rewardbench", "selfrat_rewardbench_pairwise"):
        v = _check(res[task], PAIRED)
        assert 0.0 <= v["score"] <= 1.0 and "chat,none" in res[task]
    sc = _check(res["selfrat_biggen_sc"], (*POINTWISE, "pearson_mean", "mae_mean"), "all_samples")
    assert sc["n_failed"] <= limit
    _check(res["selfrat_rewardbench_pairwise_sc"], PAIRED, "all_samples")

    # N sampled judgments per prompt reach the scorer (both orders for the pairwise task)
    for sample in _samples(tmp_path, "selfrat_rewardbench_pairwise_sc"):
        assert [len(r) for r in sample["resps"]] == [2, 2]
        assert sample["score"]["n_samples"] == 4
    # plain-text prompt (no chat template) = JudgePrompt.text(): system, blank line, user message
    first = _samples(tmp_path, "selfrat_feedback_bench")[0]
    item = load_feedback_bench(data["feedback_bench"])[first["doc_id"]]
    expected = absolute_prompt(item.instruction, item.response, item.rubric, item.reference_answer).text()
    assert first["arguments"]["gen_args_0"]["arg_0"] == expected
    # judge defaults: no stop at blank lines; --gen_kwargs overrides max_gen_toks only
    config = results["configs"]["selfrat_feedback_bench"]["generation_kwargs"]
    assert config["until"] == [] and config["max_gen_toks"] == 8


def test_best_of_n_wrapper_with_chat_template(tiny_model_dir: Path, data: dict[str, Path], tmp_path: Path):
    limit = 2
    results = _lm_eval(
        [
            "--model",
            "selfrat-bon",
            "--model_args",
            f"base=hf,pretrained={tiny_model_dir},dtype=float32,n=2",
            "--tasks",
            "selfrat_feedback_bench_bon,selfrat_rewardbench_pairwise_bon",
            "--limit",
            str(limit),
            "--gen_kwargs",
            "max_gen_toks=8",
            "--apply_chat_template",
            "--system_instruction",
            "Be strict.",
            "--metadata",
            _meta(data),
        ],
        tmp_path,
    )
    res = results["results"]
    v = _check(res["selfrat_feedback_bench_bon"], POINTWISE)
    assert v["n_failed"] == round((1 - v["parse_rate"]) * limit)
    _check(res["selfrat_rewardbench_pairwise_bon"], PAIRED)
    for sample in _samples(tmp_path, "selfrat_feedback_bench_bon"):
        assert sample["pearson"]["n_samples"] == 2  # the wrapper drew n=2 samples per prompt
    pair = _samples(tmp_path, "selfrat_rewardbench_pairwise_bon")[0]
    item = load_rewardbench(data["rewardbench"])[pair["doc_id"]]
    system = relative_prompt(item.prompt, item.chosen, item.rejected, get_rubric("helpfulness")).system
    ctx_a, ctx_b = pair["arguments"]["gen_args_0"]["arg_0"], pair["arguments"]["gen_args_1"]["arg_0"]
    assert ctx_a.startswith(f"<|im_start|>system\nBe strict.\n\n{system}<|im_end|>\n<|im_start|>user\n")
    assert f"###Response A:\n{item.chosen}\n" in ctx_a and f"###Response A:\n{item.rejected}\n" in ctx_b
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
            json.dumps({"data_path": str(rewardbench_chat_file), "sections": ["Chat"]}),
        ],
        tmp_path,
    )
    res = results["results"]["selfrat_rewardbench"]
    assert results["n-samples"]["selfrat_rewardbench"]["original"] == 358  # the Chat section
    assert "chat,none" in res and "chat_hard,none" not in res
    assert 0.0 <= res["score,none"] <= 1.0 and not math.isnan(res["score,none"])


def test_best_of_n_scores_samples_with_real_hf_loglikelihood(tiny_model_dir: Path):
    """The log-prob path on a real backend: non-judge docs make every non-empty sample a candidate."""
    from lm_eval.api.instance import Instance
    from lm_eval.api.registry import get_model

    bon = get_model("selfrat-bon").create_from_arg_string(
        f"base=hf,pretrained={tiny_model_dir},dtype=float32,device=cpu,n=3"
    )
    gen = {"until": [], "max_gen_toks": 6, "do_sample": True, "temperature": 1.0, "top_p": 0.9}
    req = Instance(request_type="generate_until", doc={"q": 1}, arguments=("###Feedback: ", gen), idx=0)
    out = bon.generate_until([req])[0]
    assert out.n_samples == 3 and out.selected_index is not None
    assert math.isfinite(out.mean_logprob) and out.mean_logprob < 0
    # the returned text is the highest-scoring of the samples: re-score it directly
    ll, _ = bon.loglikelihood(
        [Instance(request_type="loglikelihood", doc={}, arguments=("###Feedback: ", str(out)), idx=0)]
    )[0]
    assert ll / len(bon.tok_encode(str(out))) == pytest.approx(out.mean_logprob, abs=1e-5)
