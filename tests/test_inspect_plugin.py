"""In-process tests of the Inspect plugin pieces: registry, provider, reducer, metrics, selection."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from helpers_inspect import OFFLINE_ENV, feedback_rows, rewardbench_rows, write_data_dir, write_jsonl  # noqa: E402
from inspect_ai.scorer import SampleScore, Score  # noqa: E402

from selfrat_eval.aggregation import both_orders_outcome, majority_vote, pointwise_pair_outcome  # noqa: E402
from selfrat_eval.inspect_plugin.metrics import pair_outcome  # noqa: E402
from selfrat_eval.inspect_plugin.provider import load_replay  # noqa: E402
from selfrat_eval.inspect_plugin.reducers import majority  # noqa: E402
from selfrat_eval.inspect_plugin.solvers import select  # noqa: E402
from selfrat_eval.parsing import parse_judgment  # noqa: E402
from selfrat_eval.records import DataError  # noqa: E402

NAN = float("nan")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in OFFLINE_ENV.items():
        monkeypatch.setenv(k, v)


def test_entry_point_registers_everything_under_the_package_namespace() -> None:
    from inspect_ai._util.registry import registry_lookup

    for kind, name in [
        ("task", "selfrat_eval/biggen"),
        ("task", "selfrat_eval/feedback_bench"),
        ("task", "selfrat_eval/rewardbench"),
        ("scorer", "selfrat_eval/judge_scorer"),
        ("solver", "selfrat_eval/judge"),
        ("metric", "selfrat_eval/parse_rate"),
        ("metric", "selfrat_eval/rewardbench_accuracy"),
        ("score_reducer", "selfrat_eval/majority"),
        ("modelapi", "selfrat_eval/selfrat"),
    ]:
        assert registry_lookup(kind, name) is not None, name
    # Inspect's own "majority" reducer is untouched.
    assert registry_lookup("score_reducer", "majority") is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: invalid JSON"),
        ('{"id": "x"}', "line 2: field 'outputs'"),
        ('{"outputs": ["a"]}', "line 2: a row needs 'id' and/or 'contains'"),
        ('{"id": "x", "outputs": ["a", "b"], "logprobs": [-1]}', "line 2: field 'logprobs'"),
    ],
)
def test_replay_file_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": "ok", "outputs": ["[RESULT] 3"]}\n' + line + "\n")
    with pytest.raises(DataError, match=message) as err:
        load_replay(p)
    assert str(p) in str(err.value)


def _scores(values: list[dict[str, float]], mode: str) -> list[Score]:
    return [
        Score(value=v, metadata={"parse_mode": mode, "n_failed": sum(math.isnan(x) for x in v.values())})
        for v in values
    ]


def test_majority_reducer_uses_core_tie_rules() -> None:
    reduce = majority()
    # Three-way tie 3/5/4 -> closest to the mean (4); failed epochs skipped.
    out = reduce(_scores([{"score": 3.0}, {"score": 5.0}, {"score": 4.0}, {"score": NAN}], "absolute"))
    assert out.value == {"score": float(majority_vote([3, 5, 4]))} == {"score": 4.0}
    assert out.metadata["n_failed_epoch_judgments"] == 1
    # Inspect's mode would take the first of a 2/2 tie; the core takes the one closest to the mean, then lower.
    assert reduce(
        _scores([{"score": 5.0}, {"score": 1.0}, {"score": 1.0}, {"score": 5.0}], "absolute")
    ).value == {"score": 1.0}
    assert math.isnan(reduce(_scores([{"score": NAN}, {"score": NAN}], "absolute")).value["score"])
    rel = reduce(
        _scores(
            [
                {"chosen_first": 1.0, "chosen_second": 1.0},
                {"chosen_first": 0.0, "chosen_second": 1.0},
                {"chosen_first": NAN, "chosen_second": 0.0},
            ],
            "relative",
        )
    )
    assert rel.value == {"chosen_first": 0.5, "chosen_second": 1.0}  # even split -> no verdict


def _sample(value: dict[str, float], **meta: object) -> SampleScore:
    return SampleScore(score=Score(value=value), sample_id="s", sample_metadata=dict(meta))


@pytest.mark.parametrize("require_consistent", [True, False])
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("[RESULT] A", "[RESULT] B"),
        ("[RESULT] A", "[RESULT] A"),
        ("x", "[RESULT] B"),
        ("[RESULT] B", "[RESULT] A"),
    ],
)
def test_pair_outcome_matches_core(first: str, second: str, require_consistent: bool) -> None:
    from selfrat_eval.inspect_plugin.scorers import judgment_value

    j1, j2 = parse_judgment(first, "relative"), parse_judgment(second, "relative")
    value = {
        "chosen_first": judgment_value("chosen_first", j1),
        "chosen_second": judgment_value("chosen_second", j2),
    }
    got = pair_outcome(_sample(value, kind="rewardbench_pairwise", require_consistent=require_consistent))
    assert got == both_orders_outcome(j1, j2, require_consistent=require_consistent)


def test_pointwise_pair_outcome_counts_failures_as_half() -> None:
    for c, r in [(5.0, 2.0), (2.0, 5.0), (3.0, 3.0), (NAN, 2.0)]:
        got = pair_outcome(_sample({"chosen": c, "rejected": r}, kind="rewardbench_pointwise"))
        assert got == pointwise_pair_outcome(None if math.isnan(c) else c, r)


def test_select_all_failed_keeps_first_and_says_so() -> None:
    index, how, n_failed = select(
        ["x", "y"], [-1.0, -0.1], parse_mode="absolute", scale=(1, 5), strategy="logprob"
    )
    assert (index, n_failed) == (0, 2) and "every draw failed" in how
    index, how, _ = select(
        ["[RESULT] 2", "[RESULT] 4"], [-1.0, None], parse_mode="absolute", scale=(1, 5), strategy="logprob"
    )
    assert how.startswith("majority") and index == 0  # one draw lacks a log-prob -> documented fallback


def _eval(tmp_path: Path, seed: int, name: str) -> list[str]:
    from inspect_ai import eval as inspect_eval

    data = write_data_dir(tmp_path)
    [log] = inspect_eval(
        "selfrat_eval/feedback_bench",
        task_args={"data_path": str(data)},
        model="selfrat/scripted",
        model_args={"seed": seed, "fail_rate": 0.25},
        log_dir=str(tmp_path / name),
        display="none",
    )
    assert log.status == "success"
    return [s.output.completion for s in sorted(log.samples, key=lambda s: str(s.id))]


def test_scripted_provider_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = _eval(tmp_path, 1, "a"), _eval(tmp_path, 1, "b"), _eval(tmp_path, 2, "c")
    assert a == b and a != c and len(a) == len(feedback_rows())
    assert any(not parse_judgment(t).ok for t in a + c)  # fail_rate produces counted failures


def test_task_argument_errors_are_clear(tmp_path: Path) -> None:
    from selfrat_eval.inspect_plugin.tasks import feedback_bench, rewardbench

    data = write_data_dir(tmp_path)
    with pytest.raises(ValueError, match="mode must be"):
        rewardbench(data_path=str(data), mode="bogus")
    with pytest.raises(DataError, match="not found"):
        feedback_bench(data_path=str(tmp_path / "missing.jsonl"))
    rows = rewardbench_rows()
    rows[1]["id"] = rows[0]["id"]
    bad = write_jsonl(tmp_path / "dup" / "filtered.jsonl", rows)
    with pytest.raises(DataError, match="duplicate item id"):
        rewardbench(data_path=str(bad))
    task = rewardbench(data_path=str(data), subsets="alpacaeval-easy,mt-bench-hard", mode="pointwise")
    assert {s.metadata["subset"] for s in task.dataset} == {"alpacaeval-easy", "mt-bench-hard"}
    assert all(set(s.metadata["prompts"]) == {"chosen", "rejected"} for s in task.dataset)


def test_reference_variant_and_system_message(tmp_path: Path) -> None:
    from selfrat_eval.inspect_plugin.tasks import feedback_bench

    data = write_data_dir(tmp_path)
    with_ref = feedback_bench(data_path=str(data))
    no_ref = feedback_bench(data_path=str(data), reference=False, system_message=False)
    s1, s2 = with_ref.dataset[0], no_ref.dataset[0]
    assert "###Reference Answer (Score 5):" in s1.metadata["prompts"]["score"]
    assert "###Reference Answer" not in s2.metadata["prompts"]["score"]
    assert s1.input[0].role == "system" and s2.input[0].role == "user"
    assert s1.target == "1" and s1.metadata["gold"] == 1
