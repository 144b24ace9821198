"""SamplingConfig rejects bad values with the option named, whatever front end builds it."""

from __future__ import annotations

import math

import pytest

from selfrat_eval.generation.base import DEFAULT_SAMPLING, GREEDY, SamplingConfig


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top_p": 2.0}, r"top_p must be in \(0, 1\], got 2\.0"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\], got 0\.0"),
        ({"temperature": -1.0}, r"temperature must be >= 0, got -1\.0"),
        ({"temperature": math.nan}, r"temperature must be >= 0, got nan"),
        ({"max_new_tokens": 0}, r"max_new_tokens must be an integer >= 1, got 0"),
        ({"max_new_tokens": 1.5}, r"max_new_tokens must be an integer >= 1, got 1\.5"),
        ({"repetition_penalty": 0.0}, r"repetition_penalty must be > 0, got 0\.0"),
        ({"top_p": "0.9"}, r"top_p must be a number, got '0\.9'"),
    ],
)
def test_bad_values_name_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplingConfig(**kwargs)


def test_edges_and_shared_defaults_are_valid() -> None:
    assert SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=1, repetition_penalty=0.5).greedy
    assert DEFAULT_SAMPLING.top_p == 0.9 and GREEDY.greedy
