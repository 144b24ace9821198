"""Rubrics and the Prometheus grading formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selfrat_eval import BUILTIN_RUBRICS, Rubric, RubricError, absolute_prompt, get_rubric, relative_prompt
from selfrat_eval.formats import ABSOLUTE_SYSTEM_PROMPT, RELATIVE_SYSTEM_PROMPT

RUBRIC = Rubric(
    criteria="Is the answer correct?",
    descriptions={1: "Wrong.", 2: "Mostly wrong.", 3: "Half right.", 4: "Mostly right.", 5: "Right."},
)


def test_rubric_renders_in_prometheus_layout() -> None:
    assert RUBRIC.render() == (
        "[Is the answer correct?]\nScore 1: Wrong.\nScore 2: Mostly wrong.\nScore 3: Half right.\n"
        "Score 4: Mostly right.\nScore 5: Right."
    )
    assert RUBRIC.render_criteria() == "[Is the answer correct?]"


def test_rubric_validation() -> None:
    with pytest.raises(RubricError, match="missing \\[5\\]"):
        Rubric("c", {1: "a", 2: "b", 3: "c", 4: "d"})
    with pytest.raises(RubricError, match="increasing"):
        Rubric("c", {}, scale=(5, 1))
    with pytest.raises(RubricError, match="criteria"):
        Rubric("  ", {})
    with pytest.raises(RubricError, match="score3_description"):
        Rubric.from_dict({"criteria": "c", "score1_description": "a", "score2_description": "b"})


def test_rubric_files_round_trip(tmp_path: Path) -> None:
    yaml_file = tmp_path / "r.yaml"
    yaml_file.write_text(
        "criteria: Is it concise?\nscale: [0, 2]\ndescriptions:\n  - Rambling.\n  - Okay.\n  - Concise.\n"
    )
    r = Rubric.load(yaml_file)
    assert r.scale == (0, 2) and r.descriptions == {0: "Rambling.", 1: "Okay.", 2: "Concise."}
    json_file = tmp_path / "r.json"
    json_file.write_text(json.dumps(RUBRIC.to_dict()))
    assert Rubric.load(json_file) == RUBRIC
    assert get_rubric(str(json_file)) == RUBRIC
    bad = tmp_path / "bad.yaml"
    bad.write_text("criteria: [unclosed")
    with pytest.raises(RubricError, match="bad.yaml"):
        Rubric.load(bad)
    with pytest.raises(RubricError, match="unknown rubric"):
        get_rubric("no-such-rubric")
    assert get_rubric("helpfulness") is BUILTIN_RUBRICS["helpfulness"]


def test_rubric_must_describe_every_level(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="no level descriptions"):
        Rubric("c", {})
    with pytest.raises(RubricError, match="no level descriptions"):
        Rubric("c")
    with pytest.raises(RubricError, match=r"levels \[3\] are empty"):
        Rubric("c", {1: "a", 2: "b", 3: "  ", 4: "d", 5: "e"})
    empty = tmp_path / "empty.yaml"
    empty.write_text("criteria: Is it good?\ndescriptions: {}\n")
    with pytest.raises(RubricError, match=r"empty\.yaml: rubric has no level descriptions"):
        Rubric.load(empty)
    with pytest.raises(RubricError, match="more than 100 levels"):
        Rubric("c", {1: "a"}, scale=(1, 10**9))


def test_rubric_key_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    words = tmp_path / "words.yaml"
    words.write_text("criteria: Is it good?\ndescriptions:\n  one: Bad.\n  two: Good.\nscale: [1, 2]\n")
    with pytest.raises(RubricError, match=r"words\.yaml: descriptions key 'one' is not an integer"):
        Rubric.load(words)
    for text, pattern in [
        ("criteria: c\ndescriptions:\n  1.5: a\n", r"key 1\.5 is not"),
        ("criteria: c\ndescriptions:\n  true: a\n", r"key True is not"),
        ("criteria: c\nscale: 5\ndescriptions: [a]\n", r"'scale' must be \[min, max\]"),
        ("criteria: c\nscale: [a, b]\ndescriptions: [a]\n", r"'scale' must be two integers"),
        ("criteria: [1, 2]\ndescriptions: [a, b, c, d, e]\n", r"'criteria' must be text"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(RubricError, match=r"bad\.yaml: .*" + pattern):
            Rubric.load(bad)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"criteria": "caf\xe9"}')
    with pytest.raises(RubricError, match=r"latin1\.json: cannot parse rubric"):
        Rubric.load(latin1)
    multi = tmp_path / "multi.yaml"
    multi.write_text("criteria: [unclosed\n  more: x\n")
    with pytest.raises(RubricError) as info:
        Rubric.load(multi)
    assert "\n" not in str(info.value)


def test_absolute_prompt_sections_in_order() -> None:
    p = absolute_prompt("Add 2 and 2.", "4", RUBRIC, reference_answer="2 + 2 = 4")
    headers = [
        "###Task Description:",
        "###The instruction to evaluate:",
        "###Response to evaluate:",
        "###Reference Answer (Score 5):",
        "###Score Rubrics:",
        "###Feedback: ",
    ]
    positions = [p.user.index(h) for h in headers]
    assert positions == sorted(positions)
    assert p.user.endswith("###Feedback: ")
    assert '"(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"' in p.user
    assert "a reference answer that gets a score of 5" in p.user
    assert RUBRIC.render() in p.user
    assert p.system == ABSOLUTE_SYSTEM_PROMPT
    assert p.messages() == [
        {"role": "system", "content": ABSOLUTE_SYSTEM_PROMPT},
        {"role": "user", "content": p.user},
    ]
    assert p.messages(include_system=False) == [{"role": "user", "content": p.user}]
    assert p.text().startswith(ABSOLUTE_SYSTEM_PROMPT) and p.text(include_system=False) == p.user


def test_absolute_prompt_without_reference_drops_the_section() -> None:
    for ref in (None, "", "   "):
        p = absolute_prompt("Q", "A", RUBRIC, reference_answer=ref)
        assert "###Reference Answer" not in p.user
        assert "reference answer" not in p.user.split("###The instruction")[0]


def test_absolute_prompt_follows_custom_scale() -> None:
    r = Rubric("c", {0: "a", 1: "b", 2: "c"}, scale=(0, 2))
    p = absolute_prompt("Q", "A", r, reference_answer="R")
    assert "between 0 and 2" in p.user and "###Reference Answer (Score 2):" in p.user


def test_relative_prompt() -> None:
    p = relative_prompt("Which is better?", "first", "second", RUBRIC, reference_answer=None)
    order = [p.user.index(h) for h in ("###Instruction:", "###Response A:", "###Response B:", "###Score Rubric:", "###Feedback: ")]
    assert order == sorted(order)
    assert "###Reference Answer:" not in p.user
    assert "[Is the answer correct?]" in p.user and "Score 1:" not in p.user
    assert "[RESULT] (A or B)" in p.user
    assert p.system == RELATIVE_SYSTEM_PROMPT
    with_ref = relative_prompt("Q", "a", "b", "[Be helpful]", reference_answer="ref")
    assert "###Reference Answer:\nref" in with_ref.user and "[Be helpful]" in with_ref.user


def test_import_stays_light() -> None:
    code = (
        "import sys, selfrat_eval, selfrat_eval.metrics, selfrat_eval.loaders, selfrat_eval.generation; "
        "heavy = [m for m in ('torch', 'transformers', 'lm_eval', 'inspect_ai', 'vllm', 'trl', 'peft') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
