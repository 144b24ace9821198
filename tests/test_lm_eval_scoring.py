"""Scoring of the selfrat_* lm-eval tasks: known judgment texts through the real lm-eval pipeline
(``simple_evaluate`` with a scripted model) must give exactly what ``selfrat_eval.metrics`` gives."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from helpers_lm_eval import CAPABILITIES, RB_SUBSETS, write_fixtures  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402

from selfrat_eval.aggregation import both_orders_outcome, pointwise_pair_outcome, self_consistency  # noqa: E402
from selfrat_eval.lm_eval_plugin import scoring  # noqa: E402
from selfrat_eval.loaders import load_biggen_human_eval, load_feedback_bench, load_rewardbench  # noqa: E402
from selfrat_eval.metrics import grouped_score_metrics, rewardbench_scores, score_metrics, subset_accuracy  # noqa: E402
from selfrat_eval.parsing import parse_judgment  # noqa: E402

_RESPONSE = re.compile(r"###Response to evaluate:\n(.*?)\n", re.S)
_RESPONSE_A = re.compile(r"###Response A:\n(.*?)\n", re.S)


def judge_text(context: str, sample: int = 0) -> str:
    """A deterministic 'judge': known texts, some unparsable, some position-biased."""
    m = _RESPONSE.search(context)
    if m:  # absolute prompt
        response = m.group(1)
        num = int(re.search(r"(\d+)", response).group(1))
        if "model-b" in response or "Item" in response or "answer" in response:
            if num % 4 == 3:
                return "I cannot decide."  # parse failure, must be counted
        if response.startswith("Good"):
            return f"Solid. [RESULT] {4 + (num + sample) % 2}"
        if response.startswith("Bad"):
            return "Weak. [RESULT] 4" if num % 3 == 0 else "Weak. [RESULT] 2"
        return f"Feedback on {num}. [RESULT] {(num * 3 + sample) % 5 + 1}"
    a = _RESPONSE_A.search(context).group(1)
    if "-0." in a and a.startswith("Bad answer 3"):
        return "Both fine. [RESULT] A"  # position bias on one pair: inconsistent across orders
    return f"Reasoning. [RESULT] {'A' if a.startswith('Good') else 'B'}"


class ScriptedJudge(LM):
    """An lm-eval model that answers every request with :func:`judge_text` (sample index = repeat)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, int] = {}
        self.outputs: list[str] = []

    def generate_until(self, requests, disable_tqdm: bool = False):
        out = []
        for req in requests:
            ctx = req.args[0]
            k = self.seen.get(ctx, 0)
            self.seen[ctx] = k + 1
            out.append(judge_text(ctx, k))
        self.outputs += out
        return out

    def loglikelihood(self, requests):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_fixtures(tmp_path_factory.mktemp("lm-eval-data"))


def _evaluate(tasks: list[str], fixtures: dict[str, Path], **meta) -> dict:
    """Results per task, keyed ``metric`` (the filter suffix dropped)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from selfrat_eval.lm_eval_plugin import task_dir

    metadata = {f"{k}_path": str(v) for k, v in fixtures.items()} | meta
    # Only our folder is indexed (fast); discovery through the start-up hook is tested elsewhere.
    manager = TaskManager(include_path=str(task_dir()), include_defaults=False, metadata=metadata)
    out = simple_evaluate(model=ScriptedJudge(), tasks=tasks, task_manager=manager, bootstrap_iters=0)
    return {
        task: {key.split(",")[0]: value for key, value in res.items() if "," in key}
        for task, res in out["results"].items()
    }


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def _judge_item(item, sample: int = 0):
    from selfrat_eval.formats import absolute_prompt

    prompt = absolute_prompt(item.instruction, item.response, item.rubric, item.reference_answer)
    return parse_judgment(judge_text(prompt.user, sample))


def test_biggen_parity_with_core_metrics(fixtures):
    results = _evaluate(["selfrat_biggen"], fixtures)["selfrat_biggen"]
    items = load_biggen_human_eval(fixtures["biggen"]).items
    pred = [_judge_item(it).score for it in items]
    gold = [it.gold_score for it in items]
    groups = [it.groups["capability"] for it in items]
    direct = score_metrics(pred, gold)
    grouped = grouped_score_metrics(pred, gold, groups)
    assert 0 < direct["n_failed"] < len(items)  # the scripted judge fails on some items
    for name in ("pearson", "spearman", "kendall", "accuracy", "mae", "parse_rate", "n_failed"):
        assert _same(results[f"{name}"], float(direct[name])), name
    assert _same(results["pearson_macro"], grouped["macro"]["pearson"])
    for cap in CAPABILITIES:
        assert _same(results[f"pearson_{cap}"], grouped["groups"][cap]["pearson"])
    # capabilities absent from the data are not reported (no NaN-only rows)
    assert "pearson_tool_usage" not in results
    assert not math.isnan(results["pearson"]) and 0 < results["parse_rate"] < 1


def test_feedback_bench_sc_majority_and_mean(fixtures):
    results = _evaluate(["selfrat_feedback_bench_sc"], fixtures, n_samples=3)["selfrat_feedback_bench_sc"]
    items = load_feedback_bench(fixtures["feedback_bench"]).items
    judged = [[_judge_item(it, k) for k in range(3)] for it in items]
    majority = [self_consistency(js, "majority").value for js in judged]
    mean = [self_consistency(js, "mean").value for js in judged]
    gold = [it.gold_score for it in items]
    assert _same(results["pearson"], score_metrics(majority, gold)["pearson"])
    assert _same(results["pearson_mean"], score_metrics(mean, gold)["pearson"])
    assert _same(results["mae_mean"], score_metrics(mean, gold)["mae"])
    n_samples = 3 * len(items)
    n_ok = sum(j.ok for js in judged for j in js)
    assert _same(results["sample_parse_rate"], n_ok / n_samples)


def test_rewardbench_pointwise_and_pairwise_parity(fixtures):
    results = _evaluate(["selfrat_rewardbench", "selfrat_rewardbench_pairwise"], fixtures)
    from selfrat_eval.formats import absolute_prompt, relative_prompt
    from selfrat_eval.rubric import get_rubric

    rubric = get_rubric("helpfulness")
    pairs = load_rewardbench(fixtures["rewardbench"]).items
    subsets = [p.subset for p in pairs]

    def score(prompt, response):
        return parse_judgment(judge_text(absolute_prompt(prompt, response, rubric).user)).score

    pointwise = [
        pointwise_pair_outcome(score(p.prompt, p.chosen), score(p.prompt, p.rejected)) for p in pairs
    ]
    pairwise = [
        both_orders_outcome(
            parse_judgment(
                judge_text(relative_prompt(p.prompt, p.chosen, p.rejected, rubric).user), "relative"
            ),
            parse_judgment(
                judge_text(relative_prompt(p.prompt, p.rejected, p.chosen, rubric).user), "relative"
            ),
        )
        for p in pairs
    ]
    for task, outcomes in (("selfrat_rewardbench", pointwise), ("selfrat_rewardbench_pairwise", pairwise)):
        res = results[task]
        acc = subset_accuracy(outcomes, subsets)
        sections = rewardbench_scores(acc)
        assert _same(res["score"], sections["overall"]), task
        for section in ("Chat", "Chat Hard", "Safety", "Reasoning"):
            assert _same(res[f"{scoring.slug(section)}"], sections[section]), (task, section)
        for subset in RB_SUBSETS:
            assert _same(res[f"acc_{subset}"], acc[subset]), (task, subset)
        assert "acc_hep-go" not in res  # absent subsets are not reported
    # the fixture makes pointwise imperfect (ties/failures) and pairwise inconsistent on one pair
    assert 0 < results["selfrat_rewardbench"]["score"] < 1
    assert 0 < results["selfrat_rewardbench"]["parse_rate"] < 1
    assert results["selfrat_rewardbench_pairwise"]["acc_math-prm"] == 0.75
    assert results["selfrat_rewardbench_pairwise"]["parse_rate"] == 1.0


def test_doc_record_counts_failures_never_defaults():
    doc = {
        "id": "x",
        "kind": "pointwise",
        "variant": "single",
        "mode": "absolute",
        "scale_low": 1,
        "scale_high": 5,
        "prompts": [{"system": "", "user": "u"}],
        "gold": 3.0,
        "group": "g",
        "subset": "",
    }
    rec = scoring.doc_record(doc, ["no verdict"])
    assert rec["pred"] is None and rec["n_failed_samples"] == 1
    rec = scoring.doc_record(doc, ["ok [RESULT] 7"])  # out of range
    assert rec["pred"] is None
    sc = {**doc, "variant": "sc"}
    rec = scoring.doc_record(sc, [["a [RESULT] 2", "b [RESULT] 2", "c [RESULT] 5", "junk"]])
    assert (
        rec["pred"] == 2.0
        and rec["pred_mean"] == 3.0
        and rec["n_samples"] == 4
        and rec["n_failed_samples"] == 1
    )
    with pytest.raises(scoring.BestOfNError, match="selfrat-bon"):
        scoring.doc_record({**doc, "variant": "bon"}, ["plain text [RESULT] 3"])


def test_metric_specs_cover_core_rewardbench_subsets():
    from selfrat_eval.metrics import REWARDBENCH_SECTIONS

    names = {s.name for s in scoring.metric_specs("rewardbench", "pair_pointwise", "single")}
    for section in ("Chat", "Chat Hard", "Safety", "Reasoning"):
        assert scoring.slug(section) in names
        assert all(f"acc_{sub}" in names for sub in REWARDBENCH_SECTIONS[section])
    sc_names = {s.name for s in scoring.metric_specs("rewardbench", "pair_pointwise", "sc")}
    assert "score_mean" in sc_names


def test_data_options_and_clear_errors(fixtures, tmp_path):
    import json

    from selfrat_eval.lm_eval_plugin.data import load_dataset
    from selfrat_eval.records import DataError

    meta = {"selfrat_family": "rewardbench", "selfrat_kind": "pair_relative", "selfrat_variant": "single"}
    ds = load_dataset(
        **meta, data_path="/nowhere.jsonl", rewardbench_path=str(fixtures["rewardbench"]), sections='["Chat"]'
    )
    docs = ds["test"].to_list()
    assert {d["subset"] for d in docs} == {"alpacaeval-easy"} and all(len(d["prompts"]) == 2 for d in docs)
    assert (
        "###Response A:\nGood" in docs[0]["prompts"][0]["user"]
        and "###Response B:\nGood" in docs[0]["prompts"][1]["user"]
    )

    rows = [json.loads(line) for line in fixtures["biggen"].read_text().splitlines()]
    del rows[3]["human_score"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError, match=r"bad\.jsonl, row 4: field 'human_score' is missing"):
        load_dataset(selfrat_family="biggen", selfrat_kind="pointwise", data_path=str(bad))
    with pytest.raises(ValueError, match="selfrat_family"):
        load_dataset(selfrat_family="mmlu", selfrat_kind="pointwise")
    with pytest.raises(ValueError, match="use_reference"):
        load_dataset(**meta, data_path=str(fixtures["rewardbench"]), use_reference="maybe")
