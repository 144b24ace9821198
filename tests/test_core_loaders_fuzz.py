"""Fuzz the data readers the CLI uses: whatever the file holds, a loader returns ``Loaded`` (maybe
with drop counts) or raises DataError/RubricError with a one-line message naming the file."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from data_fixtures import biggen_results_rows, feedback_rows, rewardbench_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfrat_eval.loaders import (
    Loaded,
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
from selfrat_eval.rubric import Rubric, RubricError


@pytest.fixture(scope="module", autouse=True)
def _private_datasets_cache() -> Iterator[None]:
    """Arrow conversions of fuzzed files go to a temporary cache, not ~/.cache."""
    import datasets

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", Path(tmp))
        yield


LOADERS: dict[str, Callable[[Path], Any]] = {
    "read_rows": lambda p: read_rows(p, split="train"),
    "biggen_instances": load_biggen_instances,
    "biggen_human_eval": load_biggen_human_eval,
    "feedback_bench": load_feedback_bench,
    "feedback_collection": lambda p: load_feedback_collection(p, decontaminate_against=None, limit=5),
    "feedback_collection_strict": lambda p: load_feedback_collection(p, decontaminate_against=None, strict=True),
    "feedback_collection_shuffled": lambda p: load_feedback_collection(p, decontaminate_against=p, shuffle=True),
    "preference_collection": load_preference_collection,
    "rewardbench": load_rewardbench,
    "custom_shared_rubric": lambda p: load_custom_pointwise(p, rubric="helpfulness"),
    "custom_row_rubric": load_custom_pointwise,
}

PREFERENCE_ROW = {
    "orig_instruction": "Q", "orig_response_A": "a", "orig_response_B": "b", "orig_preference": "A",
    "orig_criteria": "Helpful?", "orig_reference_answer": "r", "output": "x [RESULT] A",
}
CUSTOM_ROW = {"instruction": "Q", "response": "A", "score": 3, "id": 1, "rubric": {
    "criteria": "Good?", "descriptions": {str(k): f"level {k}" for k in range(1, 6)}}}
TEMPLATES = [*biggen_results_rows()[:3], *feedback_rows(3), *rewardbench_rows()[:3], PREFERENCE_ROW, CUSTOM_ROW]

json_scalars = (
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.integers(-(10**30), 10**30) | st.sampled_from(["", "-1", "5", "A", "17", "2023-01-01", "1" * 5000])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_row(draw: st.DrawFn) -> dict[str, Any]:
    """A row in one of the real layouts with fields deleted, retyped or replaced."""
    row = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(row)))
        action = draw(st.sampled_from(["delete", "replace", "nest"]))
        if action == "delete":
            del row[key]
        elif action == "replace":
            row[key] = draw(json_values)
        elif isinstance(row[key], dict) and row[key]:
            row[key][draw(st.sampled_from(sorted(row[key])))] = draw(json_values)
    return row


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["random", "rows", "rows", "rows", "array", "empty", "huge"]))
    if kind == "random":
        return draw(st.binary(max_size=400))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n\n", b"   ", b"[]", b"{}", b"null"]))
    rows = draw(st.lists(mutated_row() | json_values, min_size=1, max_size=5))
    if kind == "huge":
        rows.append({"orig_instruction": "x" * 300_000, "input": "y" * 300_000})
    data = (json.dumps(rows) if kind == "array" else "\n".join(json.dumps(r) for r in rows)).encode()
    if draw(st.booleans()):  # truncated mid-way
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 3)) == 0:  # a byte that is not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


def _check(call: Callable[[], Any], path: Path) -> None:
    try:
        result = call()
    except (DataError, RubricError) as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert str(path) in message, message
    else:
        assert isinstance(result, (Loaded, list)), type(result)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=file_bytes(),
    suffix=st.sampled_from([".jsonl", ".jsonl", ".json", ".csv", ".parquet"]),
    loader=st.sampled_from(sorted(LOADERS)),
)
def test_any_file_gives_loaded_or_a_one_line_error_naming_it(content: bytes, suffix: str, loader: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(content)
        _check(lambda: LOADERS[loader](path), path)


@settings(max_examples=30, deadline=None)
@given(content=file_bytes(), loader=st.sampled_from(sorted(LOADERS)))
def test_directories(content: bytes, loader: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "snapshot"
        (root / "data").mkdir(parents=True)
        (root / "README.md").write_text("no data here")
        _check(lambda: LOADERS[loader](root), root)  # no data file for the split
        (root / "data" / "train.jsonl").write_bytes(content)
        (root / "data" / "test.jsonl").write_bytes(content)
        _check(lambda: LOADERS[loader](root), root)


@settings(max_examples=80, deadline=None)
@given(content=file_bytes() | st.builds(lambda v: json.dumps(v).encode(), json_values),
       suffix=st.sampled_from([".yaml", ".json"]))
def test_rubric_files(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"rubric{suffix}"
        path.write_bytes(content)
        try:
            Rubric.load(path)
        except RubricError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        _check(lambda: load_custom_pointwise(path.with_name("none.jsonl"), rubric=path), path)


def test_custom_rubric_rows_with_word_keys_name_file_row_and_key(tmp_path: Path) -> None:
    row = dict(CUSTOM_ROW, rubric={"criteria": "Good?", "descriptions": {"one": "bad", "two": "good"}})
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"c\.jsonl, row 1, field 'rubric': descriptions key 'one' is not an integer"):
        load_custom_pointwise(path)
