"""benchmarks/probe_verdict_marginal.py: p(met) at each verdict of a running-count judgment, the
expected score 1 + sum p(met), and the counted outcomes of judgments it cannot read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers_benchmarks import benchmark_script

probe = benchmark_script("probe_verdict_marginal")

JUDGMENT = (
    "Item count: A, B = 2, asked 2 (met, 1 so far). No 'x': absent (met, 2 so far). "
    "Capitals: A, b (violated, 2 so far). Periods: '.', '.' (met, 3 so far). 3 of 4 met, so the score is 4. [RESULT] 4"
)


def test_verdict_prefixes_end_where_each_verdict_is_chosen() -> None:
    prefixes = probe.verdict_prefixes(JUDGMENT)
    assert len(prefixes) == 4
    assert all(p.endswith(" (") for p in prefixes)
    assert [JUDGMENT[len(p):].split(",")[0] for p in prefixes] == ["met", "met", "violated", "met"]


def test_p_met_renormalises_over_the_two_words_and_counts_word_prefix_tokens() -> None:
    top = {"met": math.log(0.3), "viol": math.log(0.1), " v": math.log(0.1), "the": math.log(0.5)}
    assert probe.p_met(top) == pytest.approx(0.3 / 0.5)
    assert probe.p_met({"the": 0.0, "a": -1.0}) is None  # neither word in the top-k: unreadable


class _FakeBackend:
    """next_token_logprobs answers p(met) = 0.25 at every verdict; records the prefixes it scores."""

    def __init__(self, unreadable_prefix: str | None = None) -> None:
        self.prefixes: list[str] = []
        self.unreadable_prefix = unreadable_prefix

    def next_token_logprobs(self, prompts: list, prefixes: list[str], k: int = 20) -> list[dict[str, float]]:
        self.prefixes += prefixes
        return [{"the": 0.0} if p == self.unreadable_prefix else {"met": math.log(0.25), "viol": math.log(0.75)}
                for p in prefixes]


def _item(i: int, text: str, value: int | None, gold: float) -> dict:
    return {"id": f"i{i}", "result": {"gold": gold},
            "requests": {"score": {"draws": [{"text": text, "value": value}]}}}


def test_judge_predictions_reads_four_verdicts_and_counts_what_it_cannot_read() -> None:
    three_verdicts = JUDGMENT.replace(" Periods: '.', '.' (met, 3 so far).", "")
    items = [
        _item(0, JUDGMENT, 4, 4.0),
        _item(1, "no verdicts here", None, 2.0),  # unparsed
        _item(2, three_verdicts, 4, 3.0),  # not the rubric's four verdicts
        _item(3, "Other " + JUDGMENT, 4, 5.0),  # its third verdict is outside the top-k
    ]
    unreadable = probe.verdict_prefixes("Other " + JUDGMENT)[2]
    backend = _FakeBackend(unreadable_prefix=unreadable)
    rows = probe.judge_predictions(backend, {f"i{i}": [{"role": "user", "content": "p"}] for i in range(4)}, items)["rows"]
    assert [r["outcome"] for r in rows] == ["read", "unparsed", "verdict_count", "verdict_outside_top_k"]
    assert rows[0]["expected"] == pytest.approx(1 + 4 * 0.25)
    assert rows[0]["greedy"] == 4
    assert all(r["expected"] is None for r in rows[1:])  # never a default score
    assert len(backend.prefixes) == 8  # only the two four-verdict judgments were scored


def test_curve_judges_takes_each_model_once(tmp_path: Path) -> None:
    curve = {"curve": [
        {"judge": "sft", "model": "m0", "results": "r/sft.json", "strategy": "greedy"},
        {"judge": "sft", "model": "m0", "results": "r/sft-ev.json", "strategy": "expected-score"},
        {"judge": "iter1", "model": "m1", "results": "r/it1.json", "strategy": "greedy"},
        {"judge": "iter2", "model": "m1", "results": "r/it2.json", "strategy": "greedy"},
    ]}
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(curve))
    assert probe.curve_judges(path) == [("sft", "r/sft.json"), ("iter1 = iter2", "r/it1.json")]


def _report(rows_by_judge: dict[str, list[tuple[str, float, float, float | None]]]) -> dict:
    """A probe report: per judge, rows (id, gold, greedy, verdict-marginal expected or None)."""
    return {"predictions": {name: [{"id": i, "gold": g, "greedy": gr, "expected": ex, "p_met": [0.5] * 4 if ex else None,
                                    "outcome": "read" if ex is not None else "verdict_count"} for i, g, gr, ex in rows]
                            for name, rows in rows_by_judge.items()}}


def test_pool_concatenates_seeds_and_a_shared_judge_joins_each_name() -> None:
    seed_a = _report({"sft": [("a", 1, 1, 1.5), ("b", 3, 2, 2.5), ("c", 5, 5, 4.5)],
                      "iter1 = iter2": [("a", 1, 1, 1.2), ("b", 3, 3, 3.1), ("c", 5, 4, 4.8)]})
    seed_b = _report({"sft": [("a", 2, 4, 3.0), ("b", 4, 4, None)],
                      "iter1": [("a", 2, 2, 2.0), ("b", 4, 3, 3.9)], "iter2": [("a", 2, 3, 2.2), ("b", 4, 4, 4.1)]})
    pooled = probe.pool([seed_a, seed_b], target="iter2", n_resamples=200)
    judges = {s["judge"]: s for s in pooled["judges"]}
    assert set(judges) == {"sft", "iter1", "iter2"}
    assert judges["iter1"]["n"] == judges["iter2"]["n"] == 5  # seed a's shared judge counts for both names
    assert judges["sft"]["outcomes"] == {"read": 4, "verdict_count": 1}
    # sft's pooled Pearsons are over its four read items (the unread one is left out, never defaulted)
    gold, greedy, expected = [1, 3, 5, 2], [1, 2, 5, 4], [1.5, 2.5, 4.5, 3.0]
    assert judges["sft"]["greedy_pearson"] == pytest.approx(probe.pearson(greedy, gold))
    assert judges["sft"]["expected_pearson"] == pytest.approx(probe.pearson(expected, gold))
    minus = {d["judge"]: d for d in pooled["target_minus"]}
    assert set(minus) == {"sft", "iter1"}
    it2 = [1.2, 3.1, 4.8, 2.2, 4.1]
    assert minus["iter1"]["target_pearson"] == pytest.approx(probe.pearson(it2, [1, 3, 5, 2, 4]))
    assert minus["iter1"]["diff"] == pytest.approx(minus["iter1"]["target_pearson"] - minus["iter1"]["pearson"])
    assert "iter2 minus" in probe.pooled_markdown(pooled)


def test_pool_refuses_judges_probed_on_different_items() -> None:
    seed = _report({"sft": [("a", 1, 1, 1.5), ("b", 3, 2, 2.5)], "iter2": [("a", 1, 1, 1.2), ("z", 3, 3, 3.1)]})
    with pytest.raises(SystemExit, match="different items"):
        probe.pool([seed], target="iter2", n_resamples=50)
    with pytest.raises(SystemExit, match="not a judge"):
        probe.pool([seed], target="iter9", n_resamples=50)


def test_read_report_names_a_file_that_is_not_a_probe_report(tmp_path: Path) -> None:
    summary_line = tmp_path / "summary.jsonl"
    summary_line.write_text(json.dumps({"judge": "sft", "n": 100}))
    with pytest.raises(SystemExit, match="summary.jsonl: not a verdict_marginal.json"):
        probe.read_report(summary_line)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SystemExit, match="broken.json: cannot read a probe report"):
        probe.read_report(broken)
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(_report({"sft": [("a", 1, 1, 1.5)]})))
    assert probe.read_report(good)["predictions"]["sft"][0]["expected"] == 1.5
