"""Verdict parsing: the documented variants parse, failures are failures, nothing is invented."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfrat_eval import format_judgment, parse_judgment
from selfrat_eval import parsing as P


@pytest.mark.parametrize(
    "text, score",
    [
        ("The response is fine. [RESULT] 4", 4),
        ("Feedback here [RESULT] (4)", 4),
        ("Feedback here [RESULT]: 4/5", 4),
        ("Feedback [RESULT] 4 out of 5", 4),
        ("Feedback [RESULT] 4   \n\n", 4),
        ("Feedback [RESULT] 4</s>", 4),
        ("Feedback [RESULT] 4<|eot_id|>", 4),
        ("Feedback [RESULT] 4<|im_end|>", 4),
        ("Feedback **[RESULT]** 4", 4),
        ("Feedback [Result] 4", 4),
        ("Feedback [ RESULT ] 2", 2),
        ("Feedback [RESULT] Score: 5", 5),
        ("Feedback [RESULT] 3.0", 3),
        ("Feedback [RESULT] 1.", 1),
        ("Rationale without marker.\nScore: 4", 4),
        ("Rationale without marker.\n**Final score: 2/5**", 2),
    ],
)
def test_documented_variants_parse(text: str, score: int) -> None:
    j = parse_judgment(text)
    assert j.ok, j.error
    assert j.score == score
    assert j.verdict is None


@pytest.mark.parametrize(
    "text, error",
    [
        ("", P.EMPTY),
        ("   \n", P.EMPTY),
        ("The response deserves a 4 because it covers 3 of 5 points.", P.NO_MARKER),
        ("Score 1: bad. Score 5: perfect. The response is between them.", P.NO_MARKER),
        ("Good [RESULT]", P.NO_VERDICT),
        ("Good [RESULT] excellent", P.UNPARSABLE),
        ("Good [RESULT] 6", P.OUT_OF_RANGE),
        ("Good [RESULT] 0", P.OUT_OF_RANGE),
        ("Good [RESULT] -1", P.OUT_OF_RANGE),
        ("Good [RESULT] 3.5", P.NOT_INTEGER),
        ("Good [RESULT] 8/10", P.SCALE_MISMATCH),
        ("Good [RESULT] 4 or 5", P.AMBIGUOUS),
        ("Good [RESULT] 3-4", P.AMBIGUOUS),
        ("Good [RESULT] 4/5 [RESULT] (an integer number between 1 and 5)", P.UNPARSABLE),
    ],
)
def test_failures_are_reported_not_defaulted(text: str, error: str) -> None:
    j = parse_judgment(text)
    assert j.error == error
    assert j.score is None and not j.ok


def test_last_marker_wins_and_earlier_ones_stay_in_rationale() -> None:
    j = parse_judgment("First I thought [RESULT] 2 but on reflection [RESULT] 5")
    assert j.score == 5
    assert j.rationale == "First I thought [RESULT] 2 but on reflection"


def test_numbers_in_quoted_rubric_or_prompt_do_not_count() -> None:
    text = (
        "Per the rubric, Score 5: the response is perfect; Score 1: it fails. The answer meets 3 of "
        "4 criteria, so it sits at the fourth level. [RESULT] 4"
    )
    assert parse_judgment(text).score == 4
    prompt_echo = 'The output format should look as follows: "(feedback) [RESULT] (an integer number between 1 and 5)"'
    assert parse_judgment(prompt_echo).error == P.UNPARSABLE


def test_custom_scale() -> None:
    assert parse_judgment("ok [RESULT] 9", scale=(1, 10)).score == 9
    assert parse_judgment("ok [RESULT] 9/10", scale=(1, 10)).score == 9
    assert parse_judgment("ok [RESULT] 9", scale=(1, 5)).error == P.OUT_OF_RANGE
    assert parse_judgment("ok [RESULT] 0", scale=(0, 3)).score == 0


@pytest.mark.parametrize(
    "text, verdict, error",
    [
        ("A is better. [RESULT] A", "A", None),
        ("[RESULT] B", "B", None),
        ("[RESULT] (B)", "B", None),
        ("[RESULT] Response B", "B", None),
        ("[RESULT] b", "B", None),
        ("[RESULT] B.</s>", "B", None),
        ("reasoning\nVerdict: A", "A", None),
        ("[RESULT] A or B", None, P.AMBIGUOUS),
        ("[RESULT] A/B", None, P.AMBIGUOUS),
        ("[RESULT] Tie", None, P.TIE),
        ("[RESULT] both are equal", None, P.TIE),
        ("[RESULT] a tie", None, P.UNPARSABLE),
        ("[RESULT] C", None, P.UNPARSABLE),
        ("Response A is clearly better overall.", None, P.NO_MARKER),
        ("[RESULT]", None, P.NO_VERDICT),
    ],
)
def test_relative_verdicts(text: str, verdict: str | None, error: str | None) -> None:
    j = parse_judgment(text, mode="relative")
    assert j.verdict == verdict
    assert j.error == error
    assert j.score is None


def test_rationale_is_the_text_before_the_marker() -> None:
    j = parse_judgment("  The response lists two items.  **[RESULT]** 2")
    assert j.rationale == "The response lists two items."


def test_bad_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_judgment("x [RESULT] 3", mode="pointwise")  # type: ignore[arg-type]


def test_non_string_input_is_a_failure() -> None:
    assert parse_judgment(None).error == P.NOT_TEXT  # type: ignore[arg-type]


# ---- properties ---------------------------------------------------------------------------------

marker_free = st.text(max_size=300).filter(lambda s: "result" not in s.lower())


# Digit runs past Python's 4,300-digit int() limit, with optional fraction and denominator.
huge_numbers = st.builds(
    lambda sign, digits, frac, den: f"{sign}{digits}{frac}{den}",
    st.sampled_from(["", "-", "+", "("]),
    st.integers(1, 6000).map(lambda k: "1" * k) | st.integers(4290, 4400).map(lambda k: "9" * k),
    st.sampled_from(["", ".0", ".5", ",00", "." + "0" * 5000]),
    st.sampled_from(["", "/5", "/" + "1" * 5000, " out of " + "7" * 4400]),
)
any_text = st.text(max_size=400) | st.builds(
    lambda a, n, b: f"{a}[RESULT] {n}{b}", st.text(max_size=40), huge_numbers, st.text(max_size=40)
)


@settings(max_examples=400, deadline=None)
@given(any_text, st.sampled_from(["absolute", "relative"]))
def test_never_raises_and_invariants_hold(text: str, mode: str) -> None:
    j = parse_judgment(text, mode=mode)  # type: ignore[arg-type]
    if j.ok:
        if mode == "absolute":
            assert j.score is not None and 1 <= j.score <= 5 and j.verdict is None
        else:
            assert j.verdict in ("A", "B") and j.score is None
    else:
        assert j.score is None and j.verdict is None
        assert j.error in P.ERROR_CODES


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=300))
def test_never_invents_a_score_from_digitless_text(text: str) -> None:
    assert parse_judgment(text).score is None


@settings(max_examples=300, deadline=None)
@given(marker_free, st.integers(1, 5))
def test_round_trip_of_training_targets(rationale: str, score: int) -> None:
    j = parse_judgment(format_judgment(rationale, score))
    assert j.ok and j.score == score
    assert j.rationale == rationale.strip().rstrip(" \t\n*_").strip()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(1, 5), st.sampled_from(["A", "B"]))
def test_a_final_marker_always_decides(prefix: str, score: int, verdict: str) -> None:
    assert parse_judgment(f"{prefix} [RESULT] {score}").score == score
    assert parse_judgment(f"{prefix} [RESULT] {verdict}", mode="relative").verdict == verdict


def test_text_whose_length_changes_when_upper_cased() -> None:
    # "ß".upper() == "SS": marker search must not use shifted offsets.
    j = parse_judgment("Die Straße ist gut beschrieben. [RESULT] 4")
    assert j.score == 4 and j.rationale == "Die Straße ist gut beschrieben."


@pytest.mark.parametrize(
    "text, error",
    [
        ("[RESULT] " + "1" * 4301, P.OUT_OF_RANGE),
        ("[RESULT] 3/" + "1" * 5000, P.SCALE_MISMATCH),
        ("[RESULT] " + "1" * 5000 + "/5", P.OUT_OF_RANGE),
        ("[RESULT] -" + "9" * 4400, P.OUT_OF_RANGE),
        ("[RESULT] Score: " + "2" * 4500, P.OUT_OF_RANGE),
    ],
)
def test_huge_digit_runs_are_failures_not_exceptions(text: str, error: str) -> None:
    assert parse_judgment(text).error == error


def test_leading_zeros_and_long_zero_fractions_still_parse() -> None:
    assert parse_judgment("[RESULT] 0004").score == 4
    assert parse_judgment("[RESULT] 4." + "0" * 5000).score == 4


@pytest.mark.parametrize("sep", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202b", "\u00a0"])
def test_invisible_characters_after_the_marker_are_separators(sep: str) -> None:
    assert parse_judgment(f"Fine. [RESULT]{sep}3").score == 3
    assert parse_judgment(f"Fine. [RESULT] {sep}{sep}4{sep}").score == 4
    assert parse_judgment(f"Fine. [RESULT]{sep}B", mode="relative").verdict == "B"


def test_full_width_verdicts_are_normalised() -> None:
    assert parse_judgment("Fine. [RESULT] \uff13").score == 3
    assert parse_judgment("Fine. [RESULT] \uff13/\uff15").score == 3
    assert parse_judgment("Fine. [RESULT] \uff21", mode="relative").verdict == "A"
    assert parse_judgment("Fine. [RESULT] \uff22", mode="relative").verdict == "B"
    # Superscripts, fractions and circled numbers are not digits: NFKC must not turn them into scores.
    for text in ("[RESULT] \u00b2", "[RESULT] \u00bd", "[RESULT] \u2463"):
        assert parse_judgment(text).score is None
