"""In-process tests of the Inspect adapter: registry, task parameters and defaults, samples, the
scoring point of expected-score, the offline provider, failure accounting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("inspect_ai")

from data_fixtures import write_jsonl  # noqa: E402
from helpers_inspect import (  # noqa: E402
    Bench,
    assert_same_metrics,
    metrics_of,
    run_inspect_eval,
    run_runner,
    write_benches,
)
from inspect_ai.model import Logprob, Logprobs, ModelOutput, TopLogprob  # noqa: E402

from selfrat_eval.inspect_plugin import draws as draws_module  # noqa: E402
from selfrat_eval.inspect_plugin.draws import top_at_scoring_point  # noqa: E402
from selfrat_eval.inspect_plugin.tasks import biggen, custom, feedback_bench, rewardbench  # noqa: E402
from selfrat_eval.protocols import BenchmarkOptions, get_protocol  # noqa: E402
from selfrat_eval.records import DataError  # noqa: E402
from selfrat_eval.rubric import get_rubric  # noqa: E402
from selfrat_eval.testing import ScriptedJudgeServer  # noqa: E402

TASKS = {"biggen": biggen, "feedback_bench": feedback_bench, "rewardbench": rewardbench, "custom": custom}


@pytest.fixture
def benches(tmp_path: Path) -> dict[str, Bench]:
    return {b.name: b for b in write_benches(tmp_path)}


def test_entry_point_registers_everything_under_the_package_namespace() -> None:
    from inspect_ai._util.registry import registry_lookup

    for kind, name in [
        ("task", "selfrat_eval/biggen"),
        ("task", "selfrat_eval/feedback_bench"),
        ("task", "selfrat_eval/rewardbench"),
        ("task", "selfrat_eval/custom"),
        ("solver", "selfrat_eval/judge"),
        ("scorer", "selfrat_eval/judge_scorer"),
        ("metric", "selfrat_eval/judge_metrics"),
        ("modelapi", "selfrat_eval/selfrat"),
    ]:
        assert registry_lookup(kind, name) is not None, name
    # Self-consistency is a strategy now, not an epoch reducer.
    assert registry_lookup("score_reducer", "selfrat_eval/majority") is None


def test_rewardbench_defaults_are_the_protocols(benches: dict[str, Bench]) -> None:
    """No parameter: pairwise, per-section rubrics, greedy decoding, exactly the runner's prompts."""
    data = benches["rewardbench_pairwise"].data
    task = rewardbench(data=str(data))
    protocol = get_protocol("rewardbench", BenchmarkOptions(data=str(data)))
    items = list(protocol.load().items)
    assert [s.id for s in task.dataset] == [str(it.id) for it in items]
    for sample, item in zip(task.dataset, items, strict=True):
        requests = protocol.requests(item)
        assert [r["key"] for r in sample.metadata["requests"]] == ["chosen_first", "chosen_second"]
        assert [r["messages"] for r in sample.metadata["requests"]] == [r.prompt.messages() for r in requests]
        assert [{"role": m.role, "content": m.text} for m in sample.input] == requests[0].prompt.messages()
        assert sample.metadata["labels"] == {"subset": item.subset}
    user = {
        s.metadata["labels"]["subset"]: s.metadata["requests"][0]["messages"][1]["content"]
        for s in task.dataset
    }
    assert get_rubric("harmlessness").criteria in user["donotanswer"]  # Safety
    assert get_rubric("helpfulness").criteria in user["alpacaeval-easy"]  # Chat
    assert (task.config.temperature, task.config.top_p, task.config.max_tokens) == (0.0, None, 1024)
    assert task.metadata["strategy"] == "greedy"


def test_parameters_reach_the_protocol_and_strategy(benches: dict[str, Bench], tmp_path: Path) -> None:
    data = str(benches["rewardbench_pairwise"].data)
    task = rewardbench(
        data=data, mode="pointwise", rubric="helpfulness", reference="false", subsets="alpacaeval-easy,math-prm",
        strategy="self-consistency", n=4, sc_method="mean",
    )  # fmt: skip
    assert {s.metadata["labels"]["subset"] for s in task.dataset} == {"alpacaeval-easy", "math-prm"}
    assert all([r["key"] for r in s.metadata["requests"]] == ["chosen", "rejected"] for s in task.dataset)
    assert (task.config.temperature, task.config.top_p) == (1.0, 0.9)
    assert task.metadata["strategy"] == "SC@4 (mean)"
    fb = feedback_bench(data=str(benches["feedback_bench"].data), limit=2, reference=False)
    assert (
        len(fb.dataset) == 2
        and "###Reference Answer" not in fb.dataset[0].metadata["requests"][0]["messages"][1]["content"]
    )
    assert fb.dataset[0].metadata["labels"] == {"gold": 1.0, "group": ""}
    bg = biggen(data=str(benches["biggen"].data), skip_llm_judge_tasks=True)
    assert {s.metadata["labels"]["group"] for s in bg.dataset} == {"reasoning", "planning"}
    custom_file = write_jsonl(tmp_path / "custom.jsonl", [{"instruction": "Q?", "response": "A", "score": 4}])
    assert custom(data=str(custom_file), rubric="correctness").dataset[0].metadata["labels"]["gold"] == 4.0


@pytest.mark.parametrize(
    ("task", "args", "message"),
    [
        ("rewardbench", {"modee": "pointwise"}, "unknown task parameter(s) modee"),
        ("rewardbench", {"mode": "sideways"}, "mode must be one of pairwise, pointwise"),
        ("biggen", {"mode": "pairwise"}, "biggen grades single responses"),
        ("feedback_bench", {"sections": "Chat"}, "subsets/sections are RewardBench options"),
        ("rewardbench", {"include_multilingual": True}, "BiGGen options"),
        ("rewardbench", {"reference": "maybe"}, "reference must be true or false"),
        ("rewardbench", {"limit": 0}, "limit must be a positive integer"),
        ("rewardbench", {"strategy": "vote"}, "strategy must be one of"),
        ("rewardbench", {"strategy": "self-consistency", "n": 1}, "needs n >= 2"),
        ("rewardbench", {"strategy": "greedy", "n": 4}, "n must be 1"),
        ("rewardbench", {"strategy": "best-of-n", "n": "four"}, "n must be an integer"),
        ("rewardbench", {"strategy": "best-of-n", "select_by": "scorer"}, "needs -T scorer="),
        ("rewardbench", {"rubric": "no_such_rubric"}, "no_such_rubric"),
        ("custom", {"data": None}, "needs a data file"),
    ],
)
def test_bad_parameters_fail_clearly(
    benches: dict[str, Bench], task: str, args: dict[str, Any], message: str
) -> None:
    data = {"rewardbench": "rewardbench_pairwise"}.get(task, task)
    kwargs = {"data": str(benches[data].data) if data in benches else None, **args}
    with pytest.raises((ValueError, DataError)) as err:
        TASKS[task](**kwargs)
    assert message in str(err.value)


def test_data_errors_are_clear(tmp_path: Path, benches: dict[str, Bench]) -> None:
    with pytest.raises(DataError, match="not found"):
        feedback_bench(data=str(tmp_path / "missing.jsonl"))
    rows = [{"id": "same", "instruction": "Q", "response": "A", "score": 3}] * 2
    dup = write_jsonl(tmp_path / "dup.jsonl", rows)
    with pytest.raises(DataError, match="duplicate item id"):
        custom(data=str(dup), rubric="helpfulness")


def _output(tokens: list[str], top_at: int | None, top: dict[str, float] | None = None) -> ModelOutput:
    out = ModelOutput.from_content(model="m", content="".join(tokens))
    top = top or {" 4": -0.1, " 3": -2.5, "4": -3.0}
    out.choices[0].logprobs = Logprobs(
        content=[
            Logprob(
                token=t,
                logprob=-0.5,
                top_logprobs=[TopLogprob(token=k, logprob=v) for k, v in top.items()] if i == top_at else [],
            )
            for i, t in enumerate(tokens)
        ]
    )
    return out


def test_scoring_point_is_the_token_right_after_the_last_marker() -> None:
    tokens = ["Fine", " [RESULT]", " 2", " no,", " [RESULT]", " 4"]
    got = top_at_scoring_point(_output(tokens, 5), "Fine [RESULT] 2 no, [RESULT]")
    assert got == {" 4": -0.1, " 3": -2.5, "4": -3.0}
    # Raw byte-level token strings (Inspect's hf provider) spell spaces as "Ġ".
    hf = ["Fine", "Ġ[", "RESULT", "]", "Ġ4"]
    got = top_at_scoring_point(_output(hf, 4, {"Ġ4": -0.2, "4": -2.0}), "Fine [RESULT]")
    assert got is not None and set(got) == {" 4", "4"} and math.isclose(got[" 4"], -0.2)
    # A token straddling the scoring point, or no top log-probs there: no reading (-> continuation).
    assert top_at_scoring_point(_output(["Fine [RES", "ULT] 4"], 1), "Fine [RESULT]") is None
    assert top_at_scoring_point(_output(tokens, None), "Fine [RESULT] 2 no, [RESULT]") is None


def test_scripted_provider_answers_like_the_server(tmp_path: Path, benches: dict[str, Bench]) -> None:
    """``selfrat/scripted`` (no server) gives the runner's numbers against ScriptedJudgeServer."""
    cases = [
        (benches["feedback_bench"], "best-of-n", 4),
        (benches["rewardbench_pairwise"], "expected-score", None),
    ]
    for bench, strategy, n in cases:
        with ScriptedJudgeServer() as server:
            want = run_runner(server.url, bench, tmp_path / "runs" / strategy, strategy, n)["metrics"]
        [log] = run_inspect_eval(None, [bench], tmp_path / "logs", strategy, n, model="selfrat/scripted")
        assert_same_metrics(metrics_of(log), want, f"{bench.name} {strategy}")


def test_failures_are_counted_and_shown(tmp_path: Path, benches: dict[str, Bench]) -> None:
    bench = benches["feedback_bench"]
    with ScriptedJudgeServer(fail_every=2) as server:
        [log] = run_inspect_eval(server.url, [bench], tmp_path / "logs", "greedy")
    m = metrics_of(log)
    failed = [s for s in log.samples if s.scores["judge_scorer"].metadata["result"]["pred"] is None]
    assert failed and m["n_failed"] == len(failed) and m["n"] == len(log.samples) == 6
    assert m["parse_rate"] == pytest.approx(1 - len(failed) / 6)
    for s in failed:
        score = s.scores["judge_scorer"]
        assert math.isnan(score.value["pred"])  # kept (a dict value), not dropped by Inspect
        assert score.metadata["decisions"]["score"]["error"] == "no_marker"
        assert "unparsable draws (0: no_marker)" in score.explanation


def test_expected_score_without_continuation_counts_no_score_probs(
    tmp_path: Path, benches: dict[str, Bench], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider that cannot continue a message: forced judgments get no distribution, counted."""
    monkeypatch.setattr(draws_module, "CONTINUE_PROVIDERS", frozenset())
    [log] = run_inspect_eval(
        None, [benches["feedback_bench"]], tmp_path / "logs", "expected-score", model="selfrat/scripted"
    )
    m = metrics_of(log)
    assert m["n_forced"] > 0 and m["n_failed"] == m["n_forced"]
    forced = [s for s in log.samples if s.store["selfrat_eval:decisions"]["score"]["error"]]
    for s in forced:
        decision = s.store["selfrat_eval:decisions"]["score"]
        assert decision["error"] == "no_score_probs"
        assert decision["draws"][0]["score_point"] == "SelfratOfflineAPI cannot continue a message"


def test_epochs_are_refused(tmp_path: Path, benches: dict[str, Bench]) -> None:
    from inspect_ai import eval as inspect_eval

    [log] = inspect_eval(
        feedback_bench(data=str(benches["feedback_bench"].data), limit=1),
        model="selfrat/scripted",
        epochs=2,
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    assert log.status == "error" and "-T strategy=self-consistency -T n=N" in str(log.error.message)
