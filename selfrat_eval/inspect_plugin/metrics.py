"""``judge_metrics``: the protocol's metrics over the item results (the runner's metric names).

Inspect reduces each sample's score over epochs first (selfrat tasks run one epoch; the value of
one score is kept as is), then this metric rebuilds the item results (numbers from the score
value, labels from the sample metadata) and returns ``protocol.metrics(results)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspect_ai.scorer import Metric, SampleScore, metric

from ..protocols import BenchmarkOptions, get_protocol
from .scorers import sample_result


@metric
def judge_metrics(benchmark: str, options: Mapping[str, Any] | None = None) -> Metric:
    """Every metric of the benchmark's protocol, by name."""
    protocol = get_protocol(benchmark, BenchmarkOptions.from_mapping(options or {}))

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        return protocol.metrics([sample_result(s) for s in scores])

    return compute
