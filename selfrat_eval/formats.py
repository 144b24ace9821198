"""Grading prompts in the Prometheus format (absolute 1..5 and relative A/B).

The default texts match what Prometheus-family judges were trained on, so those judges work
unchanged. For other scales the numbers in the instructions follow the rubric's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .rubric import Rubric

Mode = Literal["absolute", "relative"]

ABSOLUTE_SYSTEM_PROMPT = (
    "You are a fair judge assistant tasked with providing clear, objective feedback based on a "
    "specific set of criteria, ensuring that each assessment reflects the absolute standards set "
    "for performance."
)
RELATIVE_SYSTEM_PROMPT = (
    "You are a fair judge assistant assigned to deliver insightful feedback that compares "
    "individual performances, highlighting how each stands relative to others within the same "
    "context."
)

_ABSOLUTE_INTRO_WITH_REF = (
    "An instruction (might include an Input inside it), a response to evaluate, a reference answer "
    "that gets a score of {high}, and a score rubric representing a evaluation criteria are given."
)
_ABSOLUTE_INTRO_NO_REF = (
    "An instruction (might include an Input inside it), a response to evaluate, and a score rubric "
    "representing a evaluation criteria are given."
)
_ABSOLUTE_STEPS = """1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, write a score that is an integer between {low} and {high}. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between {low} and {high})"
4. Please do not generate any other opening, closing, and explanations."""

_RELATIVE_INTRO_WITH_REF = (
    "An instruction (might include an Input inside it), a response to evaluate, a reference answer, "
    "and a score rubric representing a evaluation criteria are given."
)
_RELATIVE_INTRO_NO_REF = (
    "An instruction (might include an Input inside it), a response to evaluate, and a score rubric "
    "representing a evaluation criteria are given."
)
_RELATIVE_STEPS = """1. Write a detailed feedback that assess the quality of two responses strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, choose a better response between Response A and Response B. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"
4. Please do not generate any other opening, closing, and explanations."""

FEEDBACK_CUE = "###Feedback: "


@dataclass(frozen=True)
class JudgePrompt:
    """A rendered grading prompt: chat messages and the equivalent plain string."""

    system: str
    user: str
    mode: Mode

    def messages(self, include_system: bool = True) -> list[dict[str, str]]:
        msgs = [{"role": "user", "content": self.user}]
        if include_system and self.system:
            msgs.insert(0, {"role": "system", "content": self.system})
        return msgs

    def text(self, include_system: bool = True) -> str:
        """Plain prompt for base models or templates that have no system role."""
        if include_system and self.system:
            return f"{self.system}\n\n{self.user}"
        return self.user


def absolute_prompt(
    instruction: str,
    response: str,
    rubric: Rubric,
    reference_answer: str | None = None,
) -> JudgePrompt:
    """Pointwise grading prompt; the reference section is omitted when there is no reference."""
    low, high = rubric.scale
    has_ref = reference_answer is not None and str(reference_answer).strip() != ""
    intro = (_ABSOLUTE_INTRO_WITH_REF if has_ref else _ABSOLUTE_INTRO_NO_REF).format(high=high)
    parts = [
        "###Task Description:",
        intro,
        _ABSOLUTE_STEPS.format(low=low, high=high),
        "",
        "###The instruction to evaluate:",
        instruction,
        "",
        "###Response to evaluate:",
        response,
        "",
    ]
    if has_ref:
        parts += [f"###Reference Answer (Score {high}):", str(reference_answer), ""]
    parts += ["###Score Rubrics:", rubric.render(), "", FEEDBACK_CUE]
    return JudgePrompt(system=ABSOLUTE_SYSTEM_PROMPT, user="\n".join(parts), mode="absolute")


def relative_prompt(
    instruction: str,
    response_a: str,
    response_b: str,
    rubric: Rubric | str,
    reference_answer: str | None = None,
) -> JudgePrompt:
    """Pairwise A/B prompt. ``rubric`` may be a :class:`Rubric` (its criteria line is used) or text."""
    has_ref = reference_answer is not None and str(reference_answer).strip() != ""
    criteria = rubric.render_criteria() if isinstance(rubric, Rubric) else str(rubric)
    parts = [
        "###Task Description:",
        _RELATIVE_INTRO_WITH_REF if has_ref else _RELATIVE_INTRO_NO_REF,
        _RELATIVE_STEPS,
        "",
        "###Instruction:",
        instruction,
        "",
        "###Response A:",
        response_a,
        "",
        "###Response B:",
        response_b,
        "",
    ]
    if has_ref:
        parts += ["###Reference Answer:", str(reference_answer), ""]
    parts += ["###Score Rubric:", criteria, "", FEEDBACK_CUE]
    return JudgePrompt(system=RELATIVE_SYSTEM_PROMPT, user="\n".join(parts), mode="relative")


def format_judgment(rationale: str, verdict: int | str) -> str:
    """Training target layout: the rationale, then ``[RESULT] <score or A/B>``."""
    return f"{rationale.strip()} [RESULT] {verdict}"
