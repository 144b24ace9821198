"""Parity: the same judge gets the same prompts and gives the same numbers in Inspect and in
``selfrat evaluate``.

For each strategy, the four benchmark configurations (biggen, feedback_bench, rewardbench
pointwise and pairwise) run through the runner (``--backend openai``) and through Inspect
(``openai-api/scripted/...``), each front end against its own fresh :class:`ScriptedJudgeServer`
(draw counters start at 0). The prompts drawn from (the multiset of generation messages, one per
draw) and every metric of ``protocol.metrics`` must be identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from helpers_inspect import (  # noqa: E402
    assert_same_metrics,
    drawn_prompts,
    metrics_of,
    run_inspect_eval,
    run_runner,
    write_benches,
)

from selfrat_eval.testing import ScriptedJudgeServer  # noqa: E402

pytestmark = pytest.mark.slow

CASES = [
    # (strategy, n, server log-probs)
    ("greedy", None, True),
    ("self-consistency", 4, True),
    ("best-of-n", 4, True),
    ("expected-score", None, True),
    ("best-of-n", 4, False),  # no log-probs: the documented majority fallback in both front ends
]


@pytest.mark.parametrize(
    ("strategy", "n", "logprobs"), CASES, ids=[f"{s}{'' if lp else '-no-logprobs'}" for s, _, lp in CASES]
)
def test_inspect_matches_runner(tmp_path: Path, strategy: str, n: int | None, logprobs: bool) -> None:
    benches = write_benches(tmp_path)
    with ScriptedJudgeServer(logprobs=logprobs) as server:
        runner = {
            b.name: run_runner(server.url, b, tmp_path / "runs" / b.name, strategy, n)["metrics"]
            for b in benches
        }
        runner_prompts = drawn_prompts(server)
    with ScriptedJudgeServer(logprobs=logprobs) as server:
        logs = run_inspect_eval(server.url, benches, tmp_path / "logs", strategy, n)
        inspect_prompts = drawn_prompts(server)

    assert inspect_prompts == runner_prompts
    assert sum(runner_prompts.values()) == sum(
        int(m["n"]) * (1 if b.benchmark != "rewardbench" else 2) * (n or 1)
        for b, m in ((b, runner[b.name]) for b in benches)
    )
    for bench, log in zip(benches, logs, strict=True):
        assert_same_metrics(metrics_of(log), runner[bench.name], f"{bench.name} {strategy}")

    failed = sum(runner[b.name].get("n_failed", 0) for b in benches)
    if strategy == "greedy":
        assert failed > 0  # the scripted judge's unparsable answers are counted, not scored
    if strategy == "best-of-n":
        fallback = [runner[b.name]["n_bon_fallback"] for b in benches]
        assert all(f > 0 for f in fallback) if not logprobs else not any(fallback)
    if strategy == "expected-score":
        assert sum(runner[b.name]["n_forced"] for b in benches) > 0  # the forced path is exercised
