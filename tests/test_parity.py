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
