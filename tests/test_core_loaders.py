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
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    skipped = load_preference_collection(bad)
    assert len(skipped) == 1 and skipped.dropped == {"malformed": 1} and skipped[0].id == "1"
    with pytest.raises(DataError, match=r"bad\.jsonl, row 1: field 'orig_preference'"):
        load_preference_collection(bad, strict=True)


def test_rewardbench_sections_and_filters(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rb.jsonl", rewardbench_rows())
    loaded = load_rewardbench(path)
    assert [i.section for i in loaded] == ["Chat", "Chat Hard", "Reasoning", "Reasoning", "Safety"]
    only = load_rewardbench(path, sections=["Reasoning"])
    assert [i.subset for i in only] == ["math-prm", "hep-python"] and only.dropped == {"filtered_out": 3}
    rows = rewardbench_rows()
    rows[3]["subset"] = "made-up"
    with pytest.raises(DataError, match=r"row 4: field 'subset' has unknown RewardBench subset 'made-up'"):
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
    with pytest.raises(DataError, match=r"fb\.jsonl, row 3: field 'orig_response' is missing"):
        load_feedback_bench(path)


def test_out_of_range_and_non_numeric_scores(tmp_path: Path) -> None:
    rows = feedback_rows(3)
    rows[1]["orig_score"] = "7"
    with pytest.raises(DataError, match=r"row 2: field 'orig_score' has out-of-range value '7'"):
        load_feedback_bench(write_jsonl(tmp_path / "a.jsonl", rows))
    rows[1]["orig_score"] = "good"
    with pytest.raises(DataError, match=r"row 2: field 'orig_score' is not a number"):
        load_feedback_bench(write_jsonl(tmp_path / "b.jsonl", rows))


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    rows = biggen_results_rows()
    rows[1]["response"] = 42
    with pytest.raises(DataError, match=r"row 2: field 'response' must be text"):
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
    with pytest.raises(DataError, match=r"row 1, field 'score_rubric': field 'score4_description' is missing"):
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
    with pytest.raises(DataError, match=r"row 1: field 'rubric' is missing"):
        load_custom_pointwise(tmp_path / "c.jsonl")
    rows[0]["score"] = 9
    with pytest.raises(DataError, match=r"row 1: field 'score' has out-of-range value 9"):
        load_custom_pointwise(write_jsonl(tmp_path / "d.jsonl", rows), rubric="helpfulness")


# ---- ids, row numbers, encodings, names ---------------------------------------------------------


def test_duplicate_ids_compare_as_text_and_name_both_rows(tmp_path: Path) -> None:
    rows = feedback_rows(5)
    rows[0]["__index_level_0__"] = 17
    rows[3]["__index_level_0__"] = "17"  # the same id as text
    path = write_jsonl(tmp_path / "fb.jsonl", rows)
    with pytest.raises(DataError, match=r"fb\.jsonl: duplicate item id '17' in row 1 and row 4"):
        load_feedback_bench(path)
    with pytest.raises(DataError, match=r"fb\.jsonl: duplicate item id '17' in row 1 and row 4"):
        load_feedback_collection(path, decontaminate_against=None)
    # an explicit id that equals another row's default id (its 0-based index) is a repeat too
    custom = [{"instruction": "Q", "response": "A", "id": 1}, {"instruction": "Q2", "response": "A2"}]
    with pytest.raises(DataError, match=r"c\.jsonl: duplicate item id '1' in row 1 and row 2"):
        load_custom_pointwise(write_jsonl(tmp_path / "c.jsonl", custom), rubric="helpfulness")
    rb = rewardbench_rows()
    rb[4]["id"] = "0"
    with pytest.raises(DataError, match=r"rb\.jsonl: duplicate item id '0' in row 1 and row 5"):
        load_rewardbench(write_jsonl(tmp_path / "rb.jsonl", rb))


def test_biggen_duplicates_name_both_rows(tmp_path: Path) -> None:
    rows = biggen_results_rows()
    rows.append(dict(rows[2]))  # the same (id, model_name) again
    with pytest.raises(
        DataError, match=r"h\.jsonl: duplicate \(id, model_name\) 'reasoning_math_1::model-a' in row 3 and row 9"
    ):
        load_biggen_human_eval(write_jsonl(tmp_path / "h.jsonl", rows))
    # the same instance id rated for another model is fine
    rows[-1]["model_name"] = "model-c"
    assert len(load_biggen_human_eval(write_jsonl(tmp_path / "ok.jsonl", rows))) == 7
    instances = [{k: v for k, v in r.items() if k not in ("model_name", "response", "human_score")} for r in rows[:2]]
    with pytest.raises(DataError, match=r"i\.jsonl: duplicate item id 'reasoning_math_0' in row 1 and row 2"):
        load_biggen_instances(write_jsonl(tmp_path / "i.jsonl", instances))


def test_rows_are_counted_from_one_and_raw_lines_are_lines(tmp_path: Path) -> None:
    rows = feedback_rows(4)
    del rows[0]["orig_response"]
    path = tmp_path / "fb.jsonl"
    path.write_text("\n" + "\n".join(json.dumps(r) for r in rows) + "\n")  # a blank first line
    with pytest.raises(DataError, match=r"^\S*fb\.jsonl, row 1: field 'orig_response' is missing$"):
        load_feedback_bench(path)
    path.write_text("\n" + json.dumps(feedback_rows(1)[0]) + "\n{broken\n")
    with pytest.raises(DataError, match=r"^\S*fb\.jsonl, line 3: invalid JSON"):
        load_feedback_bench(path)


def test_non_utf8_files_name_the_file_and_line(tmp_path: Path) -> None:
    lines = [json.dumps(r).encode() for r in feedback_rows(3)]
    lines[1] = lines[1].replace(b"Response 1", b"R\xe9ponse 1")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match=r"latin1\.jsonl, line 2: not valid UTF-8 \(byte 0xe9"):
        load_feedback_bench(path)
    with pytest.raises(DataError, match=r"latin1\.jsonl, (line|row) 2: (text is )?not valid UTF-8"):
        load_feedback_collection(path, decontaminate_against=None, strict=True)
    assert load_feedback_collection(path, decontaminate_against=None).dropped == {"malformed": 1}
    array = tmp_path / "latin1.json"
    array.write_bytes(b"[" + b",".join(lines) + b"]")
    with pytest.raises(DataError, match=r"latin1\.json: not valid UTF-8"):
        load_feedback_bench(array)
    csv = tmp_path / "latin1.csv"
    csv.write_bytes(b"instruction,response\nq,r\xe9ponse\n")
    with pytest.raises(DataError, match=r"latin1\.csv: cannot read csv data"):
        load_custom_pointwise(csv, rubric="helpfulness")


def test_rewardbench_unknown_names_list_the_valid_ones(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rb.jsonl", rewardbench_rows())
    with pytest.raises(DataError, match=r"unknown RewardBench section\(s\) \['chat'\]; valid sections: Chat, Chat Hard"):
        load_rewardbench(path, sections=["chat"])
    with pytest.raises(DataError, match=r"unknown RewardBench subset\(s\) \['alpaca'\]; valid subsets: alpacaeval-easy"):
        load_rewardbench(path, subsets=["alpaca"])
    assert [i.section for i in load_rewardbench(path, sections="Safety")] == ["Safety"]


def test_hf_style_json_lines_with_json_suffix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "fb.json", feedback_rows(3))  # datasets' to_json writes JSON lines
    assert [i.gold_score for i in load_feedback_bench(path)] == [1, 2, 3]


def test_date_like_text_stays_text(tmp_path: Path) -> None:
    rows = feedback_rows(2)
    for r in rows:
        r["orig_response"] = "2023-01-01"  # Arrow would infer a timestamp column
    path = write_jsonl(tmp_path / "fc.jsonl", rows)
    assert [i.response for i in load_feedback_collection(path, decontaminate_against=None)] == ["2023-01-01"] * 2
    assert [i.response for i in load_feedback_bench(path)] == ["2023-01-01"] * 2


# ---- Feedback-Collection at scale: slice first, validate only what is used ------------------------


def test_feedback_collection_validates_only_the_rows_it_uses(tmp_path: Path) -> None:
    rows = feedback_rows(50)
    rows[40]["orig_score"] = "nine"  # past the limit: never looked at
    path = write_jsonl(tmp_path / "fc.jsonl", rows)
    loaded = load_feedback_collection(path, decontaminate_against=None, limit=10)
    assert [i.id for i in loaded] == [str(100 + k) for k in range(10)] and loaded.dropped == {}
    everything = load_feedback_collection(path, decontaminate_against=None)
    assert len(everything) == 49 and everything.dropped == {"malformed": 1}
    with pytest.raises(DataError, match=r"fc\.jsonl, row 41: field 'orig_score' is not a number: 'nine'"):
        load_feedback_collection(path, decontaminate_against=None, strict=True)


def test_feedback_collection_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in feedback_rows(8)]
    lines[2] = '{"orig_instruction": "unterminated'
    lines[5] = "[1, 2]"
    path = tmp_path / "fc.jsonl"
    path.write_text("\n".join(lines) + "\n")
    loaded = load_feedback_collection(path, decontaminate_against=None)
    assert [i.id for i in loaded] == ["100", "101", "103", "104", "106", "107"]
    assert loaded.dropped == {"malformed": 2}
    assert len(load_feedback_collection(path, decontaminate_against=None, limit=3)) == 3
    with pytest.raises(DataError, match=r"fc\.jsonl, line 3: invalid JSON"):
        load_feedback_collection(path, decontaminate_against=None, strict=True)


def test_feedback_collection_shuffle_is_seeded_and_decontaminates(tmp_path: Path) -> None:
    collection = feedback_rows(60)
    path = write_jsonl(tmp_path / "fc.jsonl", collection)
    bench = write_jsonl(tmp_path / "bench.jsonl", collection[:30])
    a = load_feedback_collection(path, decontaminate_against=bench, limit=10, shuffle=True, seed=1)
    b = load_feedback_collection(path, decontaminate_against=bench, limit=10, shuffle=True, seed=1)
    c = load_feedback_collection(path, decontaminate_against=bench, limit=10, shuffle=True, seed=2)
    assert [i.id for i in a] == [i.id for i in b] != [i.id for i in c]
    assert all(int(i.id) >= 130 for i in a)  # rows 0..29 are in the bench
    assert len(a) == 10 and a.dropped["contaminated"] > 0
    full = load_feedback_collection(path, decontaminate_against=bench)
    assert len(full) == 30 and full.dropped == {"contaminated": 30}
    with pytest.raises(ValueError, match="limit"):
        load_feedback_collection(path, decontaminate_against=None, limit=-1)


def test_preference_collection_limit_and_shuffle(tmp_path: Path) -> None:
    rows = [
        {
            "orig_instruction": f"Q{i}",
            "orig_response_A": "a",
            "orig_response_B": "b",
            "orig_preference": "AB"[i % 2],
            "orig_criteria": "Helpful?",
            "output": "x",
        }
        for i in range(30)
    ]
    path = write_jsonl(tmp_path / "pc.jsonl", rows)
    assert [i.prompt for i in load_preference_collection(path, limit=3)] == ["Q0", "Q1", "Q2"]
    shuffled = load_preference_collection(path, limit=5, shuffle=True, seed=0)
    assert [i.id for i in shuffled] == [f"{int(i.prompt[1:])}" for i in shuffled]
    assert [i.prompt for i in shuffled] != ["Q0", "Q1", "Q2", "Q3", "Q4"]


def test_null_lines_never_reach_arrow(tmp_path: Path) -> None:
    # pyarrow's JSON reader dies with a segfault on a block that starts with `null`
    # (apache/arrow#47409): such files take the line reader, which counts the line as malformed.
    path = tmp_path / "fc.jsonl"
    path.write_text("null\n" + "\n".join(json.dumps(r) for r in feedback_rows(3)) + "\n")
    loaded = load_feedback_collection(path, decontaminate_against=None)
    assert len(loaded) == 3 and loaded.dropped == {"malformed": 1}
    with pytest.raises(DataError, match=r"fc\.jsonl, line 1: expected a JSON object per line, got NoneType"):
        load_feedback_collection(path, decontaminate_against=None, strict=True)


def test_rows_without_any_expected_column_are_malformed_not_lost(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "fc.jsonl", [{"x": 1}, {"x": 2}])
    assert load_feedback_collection(path, decontaminate_against=None).dropped == {"malformed": 2}
    assert load_preference_collection(path).dropped == {"malformed": 2}


def test_json_list_collections_count_non_objects_and_bom_keeps_columns_right(tmp_path: Path) -> None:
    array = tmp_path / "fc.json"
    array.write_text(json.dumps([*feedback_rows(2), None, 3]))
    loaded = load_feedback_collection(array, decontaminate_against=None)
    assert len(loaded) == 2 and loaded.dropped == {"malformed": 2}
    with pytest.raises(DataError, match=r"fc\.json, row 3: expected a JSON object, got NoneType"):
        load_feedback_bench(array)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"a": "\xff"}\n')
    with pytest.raises(DataError, match=r"bom\.jsonl, line 1: not valid UTF-8 \(byte 0xff at column 8\)"):
        read_rows(bom, split="train")
