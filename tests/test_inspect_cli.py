"""End-to-end: the real ``inspect eval selfrat_eval/<task>`` CLI, offline, logs read back.

Parity: the judgment texts the offline provider replays are also parsed and scored here directly
with the core (``parse_judgment`` + ``selfrat_eval.metrics`` / ``aggregation``); the metric values
in the Inspect log must be identical.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers_inspect import (
    SHARED_RB,
    biggen_rows,
    feedback_rows,
    metrics_of,
    read_logs,
    rewardbench_rows,
    run_inspect,
    write_data_dir,
    write_jsonl,
)

from selfrat_eval.aggregation import (
    best_of_n,
    both_orders_outcome,
    pointwise_pair_outcome,
    self_consistency,
)
from selfrat_eval.metrics import grouped_score_metrics, rewardbench_scores, score_metrics, subset_accuracy
from selfrat_eval.parsing import parse_judgment

pytestmark = pytest.mark.slow

# Judgment texts with known parses, including the pitfalls (number in the rationale, several
# markers, out of range, no marker).
POINTWISE_TEXTS = {
    1: "Poor answer. [RESULT] 1",
    2: "Score 5 would need more detail; this is weak. [RESULT] 2",
    3: "Adequate. [RESULT] 3",
    4: "Good. [RESULT] 1 was my first thought. Revised: [RESULT] 4",
    5: "Excellent answer. [RESULT] 5",
    "out": "Great. [RESULT] 7",
    "none": "I think this is fine overall.",
}


def _biggen_plan() -> list[tuple[str, str, int, str]]:
    """(sample id, capability, gold, replayed text) for the kept BiGGen rows."""
    preds = [1, 3, 3, 4, 5, "none", 4, 2, 5, 2, "out", 4]
    plan = []
    kept = [r for r in biggen_rows() if r["human_score"] != -1 and r["capability"] != "multilingual"]
    for row, p in zip(kept, preds, strict=True):
        plan.append(
            (f"{row['id']}::{row['model_name']}", row["capability"], row["human_score"], POINTWISE_TEXTS[p])
        )
    return plan


def _feedback_plan() -> list[tuple[str, int, str]]:
    preds = [1, 2, 4, 4, 5, 3, "none", 5]
    return [
        (str(r["__index_level_0__"]), int(r["orig_score"]), POINTWISE_TEXTS[p])
        for r, p in zip(feedback_rows(), preds, strict=True)
    ]


# Per RewardBench row: verdict text when chosen is shown first, then when chosen is shown second.
PAIR_TEXTS = [
    ("A is better. [RESULT] A", "B is better. [RESULT] B"),  # consistent win
    ("A is better. [RESULT] A", "A is better. [RESULT] A"),  # position bias -> 0.5
    ("B is better. [RESULT] B", "A is better. [RESULT] A"),  # consistent loss
    ("Both are equal. [RESULT] tie", "B is better. [RESULT] B"),  # tie -> failure -> 0.5
    ("Response A wins. [RESULT] Response A", "[RESULT] B"),  # win
    ("no verdict", "no verdict either"),  # failures -> 0.5
    ("[RESULT] A", "[RESULT] B"),
    ("[RESULT] B", "[RESULT] A"),
    ("[RESULT] A", "[RESULT] B"),
    ("[RESULT] A or B", "[RESULT] B"),  # ambiguous -> 0.5
]


def _replay_rows() -> list[dict]:
    rows = [{"id": sid, "outputs": [text]} for sid, _, _, text in _biggen_plan()]
    rows += [{"id": sid, "outputs": [text]} for sid, _, text in _feedback_plan()]
    for r, (first, second) in zip(rewardbench_rows(), PAIR_TEXTS, strict=True):
        rows.append({"id": str(r["id"]), "contains": f"###Response A:\n{r['chosen']}\n", "outputs": [first]})
        rows.append(
            {"id": str(r["id"]), "contains": f"###Response A:\n{r['rejected']}\n", "outputs": [second]}
        )
    return rows


def _assert_same(inspect_metrics: dict[str, float], expected: dict[str, float]) -> None:
    for key, value in expected.items():
        got = inspect_metrics[key]
        if math.isnan(value):
            assert math.isnan(got), key
        else:
            assert got == pytest.approx(value, abs=1e-12), key


def test_all_tasks_offline_replay_parity_with_core(tmp_path: Path) -> None:
    data = write_data_dir(tmp_path)
    replay = write_jsonl(tmp_path / "replay.jsonl", _replay_rows())
    logs_dir = tmp_path / "logs"
    run_inspect(
        [
            "eval",
            "selfrat_eval/biggen",
            "selfrat_eval/feedback_bench",
            "selfrat_eval/rewardbench",
            "-T",
            f"data_path={data}",
            "--model",
            "selfrat/replay",
            "-M",
            f"path={replay}",
            "--log-dir",
            str(logs_dir),
        ],
        cwd=tmp_path,
    )
    logs = read_logs(logs_dir)
    assert set(logs) == {"biggen", "feedback_bench", "rewardbench"}

    # BiGGen: pooled + by capability, straight from the core.
    plan = _biggen_plan()
    pred = [parse_judgment(t).score for _, _, _, t in plan]
    gold = [g for _, _, g, _ in plan]
    caps = [c for _, c, _, _ in plan]
    core = score_metrics(pred, gold)
    grouped = grouped_score_metrics(pred, gold, caps)
    m = metrics_of(logs["biggen"])
    assert core["n_failed"] == 2 and m["n_failed"] == 2 and m["n"] == 12
    assert m["parse_rate"] == pytest.approx(10 / 12)
    _assert_same(m, {k: core[k] for k in ("pearson", "spearman", "kendall", "accuracy", "mae")})
    for cap, gm in grouped["groups"].items():
        _assert_same(m, {f"{cap}/{s}": gm[s] for s in ("pearson", "spearman", "kendall")})
    _assert_same(m, {f"macro/{s}": grouped["macro"][s] for s in ("pearson", "spearman", "kendall")})
    assert logs["biggen"].eval.task_args["data_path"] == str(data)
    assert logs["biggen"].results.total_samples == 12  # unrated + multilingual rows dropped

    # Parse failures are visible per sample: NaN entry, error code, text in the explanation.
    failed = [s for s in logs["biggen"].samples if s.scores["judge_scorer"].metadata["n_failed"]]
    assert sorted(e for s in failed for e in s.scores["judge_scorer"].metadata["parse_errors"].values()) == [
        "no_marker",
        "out_of_range",
    ]
    assert all("PARSE FAILURE" in s.scores["judge_scorer"].explanation for s in failed)

    # Feedback Bench.
    fplan = _feedback_plan()
    fcore = score_metrics([parse_judgment(t).score for _, _, t in fplan], [g for _, g, _ in fplan])
    fm = metrics_of(logs["feedback_bench"])
    _assert_same(fm, {k: fcore[k] for k in ("pearson", "spearman", "kendall", "accuracy", "mae", "n_failed")})
    assert fm["parse_rate"] == pytest.approx(7 / 8)

    # RewardBench pairwise, both orders.
    rows = rewardbench_rows()
    outcomes = [
        both_orders_outcome(parse_judgment(a, "relative"), parse_judgment(b, "relative"))
        for a, b in PAIR_TEXTS
    ]
    assert outcomes == [1.0, 0.5, 0.0, 0.5, 1.0, 0.5, 1.0, 0.0, 1.0, 0.5]
    per_subset = subset_accuracy(outcomes, [r["subset"] for r in rows])
    expected = {f"subset/{k}": v for k, v in per_subset.items()}
    expected.update(rewardbench_scores(per_subset))
    rm = metrics_of(logs["rewardbench"])
    _assert_same(rm, expected)
    assert set(expected) | {"parse_rate"} == set(rm)
    n_ok = sum(parse_judgment(t, "relative").ok for pair in PAIR_TEXTS for t in pair)
    assert rm["parse_rate"] == pytest.approx(n_ok / 20)


def test_self_consistency_epochs_and_reducers(tmp_path: Path) -> None:
    """--epochs 3 with the core-identical majority reducer and Inspect's mean/median reducers."""
    data = write_data_dir(tmp_path)
    plan = _feedback_plan()
    epochs = [
        [POINTWISE_TEXTS[k] for k in seq]
        for seq in (
            (1, 2, 2),
            (2, "none", 3),
            (3, 5, 4),  # three-way tie: majority -> closest to mean (4)
            (4, 4, "out"),
            ("none", "none", "none"),  # every epoch failed -> counted failure
            (3, 3, 1),
            (1, 5, 5),
            (5, 4, 5),
        )
    ]
    rows = [{"id": sid, "outputs": outs} for (sid, _, _), outs in zip(plan, epochs, strict=True)]
    replay = write_jsonl(tmp_path / "replay.jsonl", rows)
    run_inspect(
        [
            "eval",
            "selfrat_eval/feedback_bench",
            "-T",
            f"data_path={data}",
            "--model",
            "selfrat/replay",
            "-M",
            f"path={replay}",
            "--epochs",
            "3",
            "--epochs-reducer",
            "selfrat_eval/majority,mean,median",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        cwd=tmp_path,
    )
    log = read_logs(tmp_path / "logs")["feedback_bench"]
    gold = [g for _, g, _ in plan]
    for reducer, method in (("selfrat_eval/majority", "majority"), ("mean", "mean"), ("median", "median")):
        pred = [self_consistency([parse_judgment(t) for t in outs], method).value for outs in epochs]
        core = score_metrics(pred, gold)
        m = metrics_of(log, reducer)
        _assert_same(
            m, {k: core[k] for k in ("pearson", "spearman", "kendall", "accuracy", "mae", "n_failed")}
        )
        assert m["parse_rate"] == pytest.approx(7 / 8)


def test_best_of_n_logprob_and_majority_fallback(tmp_path: Path) -> None:
    """Best-of-3 on RewardBench pointwise: log-prob pick where the provider returns log-probs,
    majority agreement where it does not (rows without ``logprobs``)."""
    data = write_data_dir(tmp_path)
    draws = ["[RESULT] 2", "[RESULT] 5", "[RESULT] 2"]
    rows = []
    expected_outcomes = []
    for r in rewardbench_rows():
        i = int(r["id"])
        chosen_lp = [-1.0, -0.5 if i % 2 else -3.0, -2.0]  # odd ids: log-prob picks 5, majority picks 2
        rows.append(
            {
                "id": str(i),
                "contains": r["chosen"],
                "outputs": draws,
                "logprobs": chosen_lp if i < 5 else None,
            }
        )
        rows.append(
            {"id": str(i), "contains": r["rejected"], "outputs": ["[RESULT] 3", "[RESULT] 4", "oops"]}
        )
        chosen = [parse_judgment(t) for t in draws]
        rejected = [parse_judgment(t) for t in ["[RESULT] 3", "[RESULT] 4", "oops"]]
        c = best_of_n(chosen, by="logprob", logprobs=chosen_lp) if i < 5 else best_of_n(chosen, by="majority")
        rj = best_of_n(rejected, by="majority")
        expected_outcomes.append(pointwise_pair_outcome(c.judgment.score, rj.judgment.score))
    for row in rows:
        if row.get("logprobs") is None:
            row.pop("logprobs", None)
    replay = write_jsonl(tmp_path / "replay.jsonl", rows)
    run_inspect(
        [
            "eval",
            "selfrat_eval/rewardbench",
            "-T",
            f"data_path={data}",
            "-T",
            "mode=pointwise",
            "-T",
            "n=3",
            "--model",
            "selfrat/replay",
            "-M",
            f"path={replay}",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        cwd=tmp_path,
    )
    log = read_logs(tmp_path / "logs")["rewardbench"]
    per_subset = subset_accuracy(expected_outcomes, [r["subset"] for r in rewardbench_rows()])
    _assert_same(
        metrics_of(log),
        {**{f"subset/{k}": v for k, v in per_subset.items()}, **rewardbench_scores(per_subset)},
    )
    by_id = {str(s.id): s.store["selfrat_judgments"] for s in log.samples}
    assert by_id["1"]["chosen"]["selected_by"] == "logprob" and by_id["1"]["chosen"]["index"] == 1
    assert by_id["0"]["chosen"]["selected_by"] == "logprob" and by_id["0"]["chosen"]["index"] == 0
    assert by_id["7"]["chosen"]["selected_by"] == "majority (provider returned no logprobs)"
    assert by_id["7"]["rejected"]["n_failed_draws"] == 1 and len(by_id["7"]["rejected"]["draws"]) == 3


def test_hf_provider_on_tiny_local_model(tmp_path: Path) -> None:
    """``hf/<local dir>`` on a random 2-layer Llama: plumbing, counts and failure accounting."""
    from selfrat_eval.tiny_model import build_tiny_llama

    model_dir = build_tiny_llama(tmp_path / "tiny", seed=0)
    data = write_data_dir(tmp_path)
    run_inspect(
        [
            "eval",
            "selfrat_eval/biggen",
            "selfrat_eval/feedback_bench",
            "selfrat_eval/rewardbench",
            "-T",
            f"data_path={data}",
            "-T",
            "n=2",
            "--model",
            f"hf/{model_dir}",
            "--limit",
            "2",
            "--max-tokens",
            "4",
            "--seed",
            "0",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        cwd=tmp_path,
    )
    logs = read_logs(tmp_path / "logs")
    assert set(logs) == {"biggen", "feedback_bench", "rewardbench"}
    for name, log in logs.items():
        assert len(log.samples) == 2
        values = [v for s in log.samples for v in s.scores["judge_scorer"].value.values()]
        parsed = sum(not math.isnan(v) for v in values)
        assert metrics_of(log)["parse_rate"] == pytest.approx(parsed / len(values)), name
        for s in log.samples:
            for rec in s.store["selfrat_judgments"].values():
                # hf returns log-probs, so best-of-2 used them (or every draw failed).
                assert rec["selected_by"].startswith("logprob") and len(rec["mean_logprobs"]) == 2
                assert all(lp is not None and lp < 0 for lp in rec["mean_logprobs"])
    assert metrics_of(logs["biggen"])["n"] == 2


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_RB.exists(), reason="../shared/data is absent")
def test_rewardbench_chat_slice_from_shared_data(tmp_path: Path) -> None:
    """Real RewardBench Chat rows, seeded scripted judge: section scores follow the core."""
    run_inspect(
        [
            "eval",
            "selfrat_eval/rewardbench",
            "-T",
            f"data_path={SHARED_RB}",
            "-T",
            "sections=Chat",
            "--model",
            "selfrat/scripted",
            "-M",
            "seed=3",
            "-M",
            "fail_rate=0.2",
            "--limit",
            "40",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        cwd=tmp_path,
    )
    log = read_logs(tmp_path / "logs")["rewardbench"]
    assert len(log.samples) == 40
    outcomes, subsets = [], []
    for s in log.samples:
        rec = s.store["selfrat_judgments"]
        first = parse_judgment(rec["chosen_first"]["text"], "relative")
        second = parse_judgment(rec["chosen_second"]["text"], "relative")
        outcomes.append(both_orders_outcome(first, second))
        subsets.append(s.metadata["subset"])
        assert s.metadata["subset"] in {
            "alpacaeval-easy",
            "alpacaeval-length",
            "alpacaeval-hard",
            "mt-bench-easy",
            "mt-bench-med",
        }
    per_subset = subset_accuracy(outcomes, subsets)
    _assert_same(
        metrics_of(log),
        {
            "Chat": rewardbench_scores(per_subset)["Chat"],
            "overall": rewardbench_scores(per_subset)["overall"],
        },
    )
    assert metrics_of(log)["parse_rate"] < 1.0  # fail_rate makes failures, and they are counted
