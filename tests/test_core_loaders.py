"""Benchmark loaders: local files in the public layouts, shared data, and clear errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from data_fixtures import biggen_results_rows, feedback_rows, rewardbench_rows, write_jsonl

from selfrat_eval.loaders import (
    decontaminate,
    load_biggen_human_eval,
    load_biggen_instances,
    load_custom_pointwise,
    load_feedback_bench,
    load_feedback_collection,
    load_preference_collection,
    load_rewardbench,
    read_rows,
)
from selfrat_eval.records import DataError


def test_biggen_human_eval_filters_and_counts(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "human_eval.jsonl", biggen_results_rows())
    loaded = load_biggen_human_eval(path)
    assert len(loaded) == 6
    assert loaded.dropped == {"unrated": 1, "multilingual": 1}
    first = loaded[0]
    assert first.id == "reasoning_math_0::model-a"
    assert first.gold_score == 4 and first.response == "Answer of model-a"
    assert first.groups == {"capability": "reasoning", "task": "math", "model_name": "model-a"}
    assert first.rubric.descriptions[3] == "Level 3 description."
    assert first.reference_answer == "The reference."

    skipped = load_biggen_human_eval(path, skip_llm_judge_tasks=True, include_multilingual=True)
    assert len(skipped) == 6 and skipped.dropped == {"unrated": 1, "llm_judge_task": 1}


def test_local_directory_in_hub_snapshot_layout(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "snap" / "data" / "human_eval.jsonl", biggen_results_rows())
    write_jsonl(tmp_path / "snap" / "data" / "llm_as_a_judge.jsonl", biggen_results_rows()[:1])
    assert len(load_biggen_human_eval(tmp_path / "snap")) == 6


def test_parquet_is_read_too(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "fb.parquet"
    datasets.Dataset.from_list(feedback_rows(5)).to_parquet(str(path))
    loaded = load_feedback_bench(path)
    assert [i.gold_score for i in loaded] == [1, 2, 3, 4, 5]


def test_feedback_bench_fields(tmp_path: Path) -> None:
    loaded = load_feedback_bench(write_jsonl(tmp_path / "fb.jsonl", feedback_rows(6)))
    assert [i.gold_score for i in loaded] == [1, 2, 3, 4, 5, 1]
    item = loaded[2]
    assert item.id == "102" and item.instruction == "Instruction 2"
    assert item.metadata["target"] == "Feedback 2. [RESULT] 3"
    assert item.rubric.criteria == "Is it good?"


def test_feedback_collection_is_decontaminated(tmp_path: Path) -> None:
    collection = feedback_rows(6)
    bench = [dict(collection[1]), dict(collection[4])]
    bench[0]["orig_response"] = "  Response   1 "  # whitespace differences still match
    coll_path = write_jsonl(tmp_path / "coll.jsonl", collection)
    bench_path = write_jsonl(tmp_path / "bench.jsonl", bench)
    loaded = load_feedback_collection(coll_path, decontaminate_against=bench_path)
    assert loaded.dropped == {"contaminated": 2}
    assert {i.instruction for i in loaded} == {f"Instruction {k}" for k in (0, 2, 3, 5)}
    assert len(load_feedback_collection(coll_path, decontaminate_against=None)) == 6
    kept, n = decontaminate(load_feedback_bench(coll_path).items, load_feedback_bench(bench_path).items)
    assert n == 2 and len(kept) == 4


def test_preference_collection(tmp_path: Path) -> None:
    rows = [
        {
            "orig_instruction": "Q",
            "orig_response_A": "first",
            "orig_response_B": "second",
            "orig_score_A": 2,
            "orig_score_B": 4,
            "orig_feedback_A": "f",
            "orig_feedback_B": "g",
            "orig_preference": pref,
            "orig_criteria": "Helpful?",
            "orig_reference_answer": "ref",
            "instruction": "rendered",
            "output": f"x [RESULT] {pref}",
        }
        for pref in ("B", "A")
    ]
    loaded = load_preference_collection(write_jsonl(tmp_path / "pc.jsonl", rows))
    assert (loaded[0].chosen, loaded[0].rejected) == ("second", "first")
    assert (loaded[1].chosen, loaded[1].rejected) == ("first", "second")
    rows[0]["orig_preference"] = "C"
    with pytest.raises(DataError, match=r"row 0: field 'orig_preference'"):
        load_preference_collection(write_jsonl(tmp_path / "bad.jsonl", rows))


def test_rewardbench_sections_and_filters(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rb.jsonl", rewardbench_rows())
    loaded = load_rewardbench(path)
    assert [i.section for i in loaded] == ["Chat", "Chat Hard", "Reasoning", "Reasoning", "Safety"]
    only = load_rewardbench(path, sections=["Reasoning"])
    assert [i.subset for i in only] == ["math-prm", "hep-python"] and only.dropped == {"filtered_out": 3}
    rows = rewardbench_rows()
    rows[3]["subset"] = "made-up"
    with pytest.raises(DataError, match=r"row 3: field 'subset' has unknown RewardBench subset 'made-up'"):
        load_rewardbench(write_jsonl(tmp_path / "bad.jsonl", rows))


@pytest.mark.shared_data
def test_shared_biggen_instances(biggen_test_file: Path) -> None:
    loaded = load_biggen_instances(biggen_test_file)
    assert len(loaded) == 765
    assert len({i.capability for i in loaded}) == 9
    english = load_biggen_instances(biggen_test_file, include_multilingual=False, skip_llm_judge_tasks=True)
    assert len(english) == 765 - 70 - 18
    assert english.dropped == {"multilingual": 70, "llm_judge_task": 18}
    item = loaded[0].item("My plan", model_name="m")
    assert item.groups["capability"] == loaded[0].capability and item.gold_score is None


@pytest.mark.shared_data
def test_shared_rewardbench_chat_slice(rewardbench_chat_file: Path) -> None:
    loaded = load_rewardbench(rewardbench_chat_file)
    assert len(loaded) == 814
    assert Counter(i.section for i in loaded) == {"Chat": 358, "Chat Hard": 456}


# ---- errors -------------------------------------------------------------------------------------


def test_missing_field_names_file_row_and_field(tmp_path: Path) -> None:
    rows = feedback_rows(4)
    del rows[2]["orig_response"]
    path = write_jsonl(tmp_path / "fb.jsonl", rows)
    with pytest.raises(DataError, match=r"fb\.jsonl, row 2: field 'orig_response' is missing"):
        load_feedback_bench(path)


def test_out_of_range_and_non_numeric_scores(tmp_path: Path) -> None:
    rows = feedback_rows(3)
    rows[1]["orig_score"] = "7"
    with pytest.raises(DataError, match=r"row 1: field 'orig_score' has out-of-range value '7'"):
        load_feedback_bench(write_jsonl(tmp_path / "a.jsonl", rows))
    rows[1]["orig_score"] = "good"
    with pytest.raises(DataError, match=r"row 1: field 'orig_score' is not a number"):
        load_feedback_bench(write_jsonl(tmp_path / "b.jsonl", rows))


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    rows = biggen_results_rows()
    rows[1]["response"] = 42
    with pytest.raises(DataError, match=r"row 1: field 'response' must be text"):
        load_biggen_human_eval(write_jsonl(tmp_path / "h.jsonl", rows))


def test_malformed_json_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    lines = [json.dumps(r) for r in feedback_rows(3)]
    lines.insert(2, '{"orig_instruction": "unterminated')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"broken\.jsonl, line 3: invalid JSON"):
        load_feedback_bench(path)


def test_missing_rubric_level(tmp_path: Path) -> None:
    rows = biggen_results_rows()
    del rows[0]["score_rubric"]["score4_description"]
    with pytest.raises(DataError, match=r"row 0, field 'score_rubric': field 'score4_description' is missing"):
        load_biggen_human_eval(write_jsonl(tmp_path / "h.jsonl", rows))


def test_missing_paths_and_offline_hub(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_rows(tmp_path / "nope.jsonl", split="train")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type"):
        read_rows(tmp_path / "x.txt", split="train")
    with pytest.raises(DataError, match="no data file for split 'test'"):
        empty = tmp_path / "empty"
        empty.mkdir()
        read_rows(empty, split="test")
    with pytest.raises(DataError, match="Pass a local file"):
        read_rows("selfrat-eval/definitely-not-a-dataset", split="train")


def test_custom_pointwise_with_shared_or_per_row_rubric(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Q1", "response": "A1", "score": 4, "group": "g1"},
        {"instruction": "Q2", "response": "A2", "reference_answer": "R2"},
    ]
    loaded = load_custom_pointwise(write_jsonl(tmp_path / "c.jsonl", rows), rubric="helpfulness")
    assert [i.gold_score for i in loaded] == [4, None]
    assert loaded[0].groups == {"group": "g1"} and loaded[1].reference_answer == "R2"
    with pytest.raises(DataError, match=r"row 0: field 'rubric' is missing"):
        load_custom_pointwise(tmp_path / "c.jsonl")
    rows[0]["score"] = 9
    with pytest.raises(DataError, match=r"row 0: field 'score' has out-of-range value 9"):
        load_custom_pointwise(write_jsonl(tmp_path / "d.jsonl", rows), rubric="helpfulness")
