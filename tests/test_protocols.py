"""The protocol layer: defaults decided once, option checks, expected-score reading, metric names."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from data_fixtures import biggen_results_rows, rewardbench_rows, write_jsonl

from selfrat_eval.protocols import BenchmarkOptions, Draw, StrategyConfig, get_protocol, judge_item
from selfrat_eval.protocols.expected import chain_verdicts, read_verdicts, scoring_prefix, token_verdict
from selfrat_eval.protocols.rewardbench import prob_greater


def test_rewardbench_defaults_pairwise_with_section_rubrics(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rb.jsonl", rewardbench_rows())
    protocol = get_protocol("rewardbench", BenchmarkOptions(data=str(data)))
    items = protocol.load().items
    by_section = {it.section: protocol.requests(it) for it in items}
    assert [r.key for r in by_section["Chat"]] == ["chosen_first", "chosen_second"]
    assert all(r.mode == "relative" for r in by_section["Chat"])
    assert "helpful" in by_section["Chat"][0].prompt.user
    assert "safe" in by_section["Safety"][0].prompt.user  # harmlessness, not helpfulness
    assert "instruction" in by_section["Chat Hard"][0].prompt.user.split("###Score Rubric:")[1]
    assert "correct" in by_section["Reasoning"][0].prompt.user.split("###Score Rubric:")[1]
    first, second = by_section["Chat"]
    item = next(it for it in items if it.section == "Chat")
    assert first.prompt.user.index(item.chosen) < first.prompt.user.index(item.rejected)
    assert second.prompt.user.index(item.rejected) < second.prompt.user.index(item.chosen)
    fixed = get_protocol("rewardbench", BenchmarkOptions(data=str(data), rubric="helpfulness", mode="pointwise"))
    reqs = fixed.requests(next(it for it in items if it.section == "Safety"))
    assert [r.key for r in reqs] == ["chosen", "rejected"] and "helpful" in reqs[0].prompt.user


def test_options_that_mean_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="mode must be pointwise"):
        get_protocol("biggen", BenchmarkOptions(mode="pairwise"))
    with pytest.raises(ValueError, match="RewardBench options"):
        get_protocol("feedback_bench", BenchmarkOptions(sections=("Chat",)))
    with pytest.raises(ValueError, match="BiGGen options"):
        get_protocol("rewardbench", BenchmarkOptions(include_multilingual=True))
    with pytest.raises(ValueError, match="BiGGen options; feedback_bench"):
        get_protocol("feedback_bench", BenchmarkOptions(skip_llm_judge_tasks=True))
    with pytest.raises(ValueError, match="BiGGen options; custom"):
        get_protocol("custom", BenchmarkOptions(data="x.jsonl", include_multilingual=True))
    for name in ("biggen", "feedback_bench"):
        with pytest.raises(ValueError, match="require_consistent"):
            get_protocol(name, BenchmarkOptions(require_consistent=False))
    with pytest.raises(ValueError, match="require_consistent applies to pairwise"):
        get_protocol("rewardbench", BenchmarkOptions(mode="pointwise", require_consistent=False))
    assert not get_protocol("rewardbench", BenchmarkOptions(require_consistent=False)).options.require_consistent
    assert get_protocol("biggen", BenchmarkOptions(skip_llm_judge_tasks=True)).options.skip_llm_judge_tasks
    with pytest.raises(ValueError, match="data file"):
        get_protocol("custom")
    with pytest.raises(ValueError, match="unknown benchmark"):
        get_protocol("mmlu")
    with pytest.raises(ValueError, match="mode must be one of"):
        BenchmarkOptions(mode="listwise")  # type: ignore[arg-type]
    opts = BenchmarkOptions.from_mapping({"sections": "Chat,Chat Hard", "reference": "false", "limit": "3", "pretrained": "x"})
    assert opts.sections == ("Chat", "Chat Hard") and opts.reference is False and opts.limit == 3
    with pytest.raises(ValueError, match="reference"):
        BenchmarkOptions.from_mapping({"reference": "maybe"})


def test_biggen_metric_names_match_metrics(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "bg.jsonl", biggen_results_rows())
    protocol = get_protocol("biggen", BenchmarkOptions(data=str(data)))
    items = protocol.load().items
    strategy = StrategyConfig("self-consistency", n=2)
    results = [
        judge_item(protocol, it, {"score": [Draw(f"ok [RESULT] {k}") for k in (3, 4)]}, strategy)[0] for it in items
    ]
    metrics = protocol.metrics(results)
    names = protocol.metric_names([protocol.labels(i) for i in items], strategy)
    assert set(names) <= set(metrics) and "pearson_reasoning" in names and "pearson_macro" in names
    assert all(r["pred"] == 3.0 for r in results)  # a 3-vs-4 tie: both are as close to the mean, the lower wins


def test_scoring_prefix_and_token_verdicts() -> None:
    assert scoring_prefix("Good. [RESULT] 4") == ("Good. [RESULT]", False)
    assert scoring_prefix("a [RESULT] 2 b [result] 5") == ("a [RESULT] 2 b [result]", False)
    assert scoring_prefix("No verdict here.  ") == ("No verdict here. [RESULT]", True)
    assert [token_verdict(t) for t in (" 4", "4", "(4", "４", " b", "\n", " The")] == ["4", "4", "4", "4", "B", "", "THE"]


def test_whitespace_first_tokenizers_are_read_by_the_chain_rule() -> None:
    # a tokenizer that emits " " then "4": P(4) = P(" 4") + P(" ") * P("4" | " ")
    first = {" ": math.log(0.6), " 4": math.log(0.1), " The": math.log(0.3)}
    second = {"4": math.log(0.5), "5": math.log(0.5)}
    calls: list[str] = []

    def fetch(prefix: str) -> dict[str, float]:
        calls.append(prefix)
        return first if prefix == "x [RESULT]" else second

    got = read_verdicts(fetch, "x [RESULT]", ["1", "2", "3", "4", "5"])
    assert calls == ["x [RESULT]", "x [RESULT] "]
    assert math.exp(got["4"]) == pytest.approx(0.1 + 0.6 * 0.5)
    assert math.exp(got["5"]) == pytest.approx(0.6 * 0.5) and "1" not in got
    # no whitespace among the top tokens: one fetch, direct reading
    assert chain_verdicts({" 3": 0.0}, ["3"]) == {"3": 0.0}


def test_expected_score_outcomes() -> None:
    p = {"1": 0.0, "2": 0.0, "3": 0.5, "4": 0.5, "5": 0.0}
    q = {"1": 0.0, "2": 0.0, "3": 1.0, "4": 0.0, "5": 0.0}
    assert prob_greater(p, q) == pytest.approx(0.5 + 0.5 * 0.5)
    assert prob_greater(q, q) == pytest.approx(0.5)


def test_expected_score_rewardbench_pairwise_outcome(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rb.jsonl", rewardbench_rows())
    protocol = get_protocol("rewardbench", BenchmarkOptions(data=str(data)))
    item = protocol.load().items[0]
    draws = {
        "chosen_first": [Draw("x [RESULT] A", score_logprobs={"A": math.log(0.8), "B": math.log(0.2)})],
        "chosen_second": [Draw("y", score_logprobs={"A": math.log(0.4), "B": math.log(0.6)}, forced=True)],
    }
    result, decisions = judge_item(protocol, item, draws, StrategyConfig("expected-score"))
    assert result["outcome"] == pytest.approx((0.8 + 0.6) / 2) and result["n_forced"] == 1
    assert decisions["chosen_second"].value == "B"
