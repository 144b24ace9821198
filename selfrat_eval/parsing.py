"""Verdict parsing for judge outputs: ``(rationale) [RESULT] (score | A | B)``.

Rules (documented in the README):
- the verdict after the LAST ``[RESULT]`` marker decides; earlier markers are part of the rationale;
- without a marker, only a ``Score: n`` (absolute) or ``Verdict: A`` (relative) line that ends the
  text is accepted, so numbers inside the rationale or a quoted rubric never count;
- scores must be integers inside the scale; anything else is a failure with an error code, never a
  default score. ``parse_judgment`` never raises.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

# Error codes carried by ``Judgment.error``.
NOT_TEXT = "not_text"
EMPTY = "empty"
NO_MARKER = "no_marker"
NO_VERDICT = "no_verdict"
UNPARSABLE = "unparsable"
NOT_INTEGER = "not_integer"
OUT_OF_RANGE = "out_of_range"
SCALE_MISMATCH = "scale_mismatch"
AMBIGUOUS = "ambiguous"
TIE = "tie"
ERROR_CODES = (
    NOT_TEXT,
    EMPTY,
    NO_MARKER,
    NO_VERDICT,
    UNPARSABLE,
    NOT_INTEGER,
    OUT_OF_RANGE,
    SCALE_MISMATCH,
    AMBIGUOUS,
    TIE,
)

ParseMode = Literal["absolute", "relative"]


@dataclass(frozen=True)
class Judgment:
    """One parsed judge output. Exactly one of ``score``/``verdict`` is set when ``error`` is None."""

    text: str
    rationale: str
    mode: ParseMode = "absolute"
    score: int | None = None
    verdict: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def value(self) -> int | str | None:
        return self.score if self.mode == "absolute" else self.verdict


_MARKER_WORD = "RESULT"
_BEFORE_MARKER = re.compile(r"\[[\s*_]*$")
_AFTER_MARKER = re.compile(r"[\s*_]*\]")
_MARKER_ANY_CASE = re.compile(r"\[[\s*_]*RESULT[\s*_]*\]", re.IGNORECASE)
# Special tokens some backends leave in the text (</s>, <|eot_id|>, <eos>, ...).
_SPECIAL_TOKENS = re.compile(r"<\|[^|>]{1,40}\|>|</s>|<eos>|<end_of_turn>|<\|endoftext\|>")
# Separators between the marker and the verdict; a "-" right before a digit is a minus sign.
_LEAD = re.compile(r"(?:[\s*_:=\u2013\u2014]|-(?!\d))*")
_SCORE_WORD = re.compile(r"(?:final\s+)?score\s*[:=]?\s*", re.IGNORECASE)
_NUMBER = re.compile(
    r"[(\[]?\s*(?P<num>[-+]?\d+(?:[.,]\d+)?)\s*[)\]]?(?:\s*(?:/|out\s+of)\s*(?P<den>\d+))?",
    re.IGNORECASE,
)
_SECOND_NUMBER = re.compile(r"\s*(?:or|to|and|-|\u2013|,|/|\|)\s*[(\[]?\s*[-+]?\d", re.IGNORECASE)
_LETTER = re.compile(r"(?:response\s*)?[(\[]?\s*(?P<v>[AB])(?![A-Za-z0-9])\s*[)\]]?", re.IGNORECASE)
_SECOND_LETTER = re.compile(r"\s*(?:or|and|/|,|=|&)\s*(?:response\s*)?[(\[]?\s*[AB](?![A-Za-z])")
_TIE_WORDS = re.compile(r"(?:tie|both|neither|equal|draw|none)\b", re.IGNORECASE)
_TRAILING_SCORE = re.compile(
    r"(?:^|\n)[\s*#_]*(?:final\s+)?score\s*[:=]?\s*[(\[]?\s*(?P<num>[-+]?\d+(?:[.,]\d+)?)\s*[)\]]?"
    r"(?:\s*(?:/|out\s+of)\s*(?P<den>\d+))?[\s*_.]*$",
    re.IGNORECASE,
)
_TRAILING_VERDICT = re.compile(
    r"(?:^|\n)[\s*#_]*(?:final\s+)?(?:verdict|winner|better\s+response)\s*[:=]?\s*(?:response\s*)?"
    r"[(\[]*\s*(?P<v>[AB])\s*[)\]]*[\s*_.]*$",
    re.IGNORECASE,
)


def _last_marker(text: str) -> tuple[int, int] | None:
    """Span of the last ``[RESULT]`` marker (any case, spaces or markdown inside the brackets)."""
    upper = text.upper()
    if len(upper) != len(text):
        # Some characters change length when upper-cased (e.g. "ß" -> "SS"): use the slow path.
        spans = [m.span() for m in _MARKER_ANY_CASE.finditer(text)]
        return spans[-1] if spans else None
    end = len(upper)
    while True:
        i = upper.rfind(_MARKER_WORD, 0, end)
        if i < 0:
            return None
        before = _BEFORE_MARKER.search(upper, max(0, i - 16), i)
        after = _AFTER_MARKER.match(upper, i + len(_MARKER_WORD))
        if before and after:
            return before.start(), after.end()
        end = i


# Invisible characters that are not Unicode category Cf but render as nothing.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")


class _TailMap(dict[int, str]):
    """``str.translate`` table built lazily, one entry per distinct character seen.

    Format/invisible characters (category Cf: zero-width space, bidi marks...) become spaces, i.e.
    separators. Other characters are NFKC-normalised, so full-width "３" and "Ａ" read as "3" and
    "A"; category No ("²", "½", "④") is kept as is, since NFKC would turn it into digits that
    were never written as digits.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        category = unicodedata.category(ch)
        if category == "Cf" or ch in _ZERO_WIDTH:
            value = " "
        elif ch.isascii() or category == "No":
            value = ch
        else:
            value = unicodedata.normalize("NFKC", ch)
        self[code] = value
        return value


_TAIL_MAP = _TailMap()


def _clean_tail(tail: str) -> str:
    if not tail.isascii():
        tail = tail.translate(_TAIL_MAP)
    return _SPECIAL_TOKENS.sub(" ", tail)


# Longer digit runs are out of any scale; checking the length first also keeps int() away from
# Python's 4,300-digit conversion limit, which raises ValueError.
_MAX_DIGITS = 12


def _small_int(digits: str) -> int | None:
    """``int(digits)`` for an unsigned digit run, or None when it has more than _MAX_DIGITS digits."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else None


def _score_from(
    num: str, den: str | None, scale: tuple[int, int]
) -> tuple[int | None, str | None]:
    low, high = scale
    sign = -1 if num.startswith("-") else 1
    whole, _, frac = num.lstrip("+-").replace(",", ".").partition(".")
    if frac.strip("0"):
        return None, NOT_INTEGER
    if den is not None and _small_int(den) != high:
        return None, SCALE_MISMATCH
    magnitude = _small_int(whole)
    if magnitude is None or not low <= sign * magnitude <= high:
        return None, OUT_OF_RANGE
    return sign * magnitude, None


def _parse_absolute_tail(tail: str, scale: tuple[int, int]) -> tuple[int | None, str | None]:
    tail = _clean_tail(tail)
    pos = _LEAD.match(tail).end()
    if pos >= len(tail) or not tail[pos:].strip():
        return None, NO_VERDICT
    word = _SCORE_WORD.match(tail, pos)
    if word:
        pos = word.end()
    m = _NUMBER.match(tail, pos)
    if not m:
        return None, UNPARSABLE
    if _SECOND_NUMBER.match(tail, m.end()):
        return None, AMBIGUOUS
    return _score_from(m.group("num"), m.group("den"), scale)


def _parse_relative_tail(tail: str) -> tuple[str | None, str | None]:
    tail = _clean_tail(tail)
    pos = _LEAD.match(tail).end()
    if pos >= len(tail) or not tail[pos:].strip():
        return None, NO_VERDICT
    if _TIE_WORDS.match(tail, pos):
        return None, TIE
    m = _LETTER.match(tail, pos)
    if not m:
        return None, UNPARSABLE
    letter = m.group("v")
    # A lone lower-case "a" is an article ("a tie", "a draw"), not a verdict.
    if letter == "a" and not tail[pos:m.end()].lower().startswith("response"):
        return None, UNPARSABLE
    if _SECOND_LETTER.match(tail, m.end()):
        return None, AMBIGUOUS
    return letter.upper(), None


def parse_judgment(
    text: str,
    mode: ParseMode = "absolute",
    scale: tuple[int, int] = (1, 5),
) -> Judgment:
    """Parse one judge output into a :class:`Judgment`; failures carry an error code."""
    if mode not in ("absolute", "relative"):
        raise ValueError(f"mode must be 'absolute' or 'relative', got {mode!r}")
    if not isinstance(text, str):
        return Judgment(text="", rationale="", mode=mode, error=NOT_TEXT)
    if not text.strip():
        return Judgment(text=text, rationale="", mode=mode, error=EMPTY)

    span = _last_marker(text)
    if span is not None:
        rationale = text[: span[0]].rstrip(" \t\n*_").strip()
        tail = text[span[1] :]
        if mode == "absolute":
            score, error = _parse_absolute_tail(tail, scale)
            return Judgment(text=text, rationale=rationale, mode=mode, score=score, error=error)
        verdict, error = _parse_relative_tail(tail)
        return Judgment(text=text, rationale=rationale, mode=mode, verdict=verdict, error=error)

    # No marker: accept only an explicit verdict line that ends the output.
    stripped = _clean_tail(text).rstrip()
    if mode == "absolute":
        m = _TRAILING_SCORE.search(stripped[-200:])
        if m:
            score, error = _score_from(m.group("num"), m.group("den"), scale)
            rationale = stripped[: len(stripped) - len(stripped[-200:]) + m.start()].strip()
            return Judgment(text=text, rationale=rationale, mode=mode, score=score, error=error)
    else:
        m = _TRAILING_VERDICT.search(stripped[-200:])
        if m:
            rationale = stripped[: len(stripped) - len(stripped[-200:]) + m.start()].strip()
            return Judgment(
                text=text, rationale=rationale, mode=mode, verdict=m.group("v").upper()
            )
    return Judgment(text=text, rationale=text.strip(), mode=mode, error=NO_MARKER)



def last_marker_end(text: str) -> int | None:
    """Offset right after the last ``[RESULT]`` marker of ``text`` (None without a marker)."""
    span = _last_marker(text) if isinstance(text, str) else None
    return None if span is None else span[1]
