"""End-to-end: the real ``inspect eval selfrat_eval/<task>`` CLI against the scripted judge server
(the runner's numbers and prompts, offline), CLI errors, a tiny local ``hf/`` model, and a slice of
the shared RewardBench data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from conftest import REWARDBENCH_CHAT  # noqa: E402
from helpers_inspect import (  # noqa: E402
    SCRIPTED_MODEL,
    Bench,
    assert_same_metrics,
    custom_rows,
    drawn_prompts,
    metrics_of,
    read_logs,
    run_inspect_cli,
    run_inspect_eval,
    run_runner,
    write_jsonl,
    write_split_dir,
)

from selfrat_eval.testing import ScriptedJudgeServer  # noqa: E402

pytestmark = pytest.mark.slow


def test_cli_runs_every_task_like_the_runner(tmp_path: Path) -> None:
    """``inspect eval`` for the four tasks, best-of-4: the runner's prompts and metrics."""
    data = write_split_dir(tmp_path / "data")
    custom_file = write_jsonl(tmp_path / "custom.jsonl", custom_rows())
    benches = [
        Bench("biggen", "biggen", data),
        Bench("feedback_bench", "feedback_bench", data),
        Bench("rewardbench", "rewardbench", data),
        Bench("custom", "custom", custom_file, {"rubric": "helpfulness"}),
    ]
    with ScriptedJudgeServer() as server:
        runner = {
            b.name: run_runner(server.url, b, tmp_path / "runs" / b.name, "best-of-n", 4)["metrics"]
            for b in benches
        }
        runner_prompts = drawn_prompts(server)
    strategy = [
        "-T",
        "strategy=best-of-n",
        "-T",
        "n=4",
        "--model",
        SCRIPTED_MODEL,
        "--log-dir",
        str(tmp_path / "logs"),
    ]
    with ScriptedJudgeServer() as server:
        env = {"SCRIPTED_BASE_URL": server.url, "SCRIPTED_API_KEY": "x"}
        tasks = ["selfrat_eval/biggen", "selfrat_eval/feedback_bench", "selfrat_eval/rewardbench"]
        run_inspect_cli(["eval", *tasks, "-T", f"data={data}", *strategy], tmp_path, env)
        run_inspect_cli(
            [
                "eval",
                "selfrat_eval/custom",
                "-T",
                f"data={custom_file}",
                "-T",
                "rubric=helpfulness",
                *strategy,
            ],
            tmp_path,
            env,
        )
        inspect_prompts = drawn_prompts(server)
    logs = read_logs(tmp_path / "logs")
    assert set(logs) == {b.name for b in benches}
    assert inspect_prompts == runner_prompts
    for b in benches:
        assert_same_metrics(metrics_of(logs[b.name]), runner[b.name], b.name)
    rb = logs["rewardbench"]
    assert rb.eval.task_args["n"] == 4 and rb.plan.config.temperature == 1.0 and rb.plan.config.top_p == 0.9
    sample = rb.samples[0]
    decision = sample.scores["judge_scorer"].metadata["decisions"]["chosen_first"]
    assert decision["selected_by"] == "logprob" and len(decision["draws"]) == 4
    assert all("mean_logprob" in d for d in decision["draws"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-T", "mode=sideways"], "mode must be one of pairwise, pointwise"),
        (["-T", "strategy=self-consistency", "-T", "n=1"], "needs n >= 2"),
        (["-T", "sectons=Chat"], "unknown task parameter(s) sectons"),
    ],
)
def test_cli_bad_parameters_fail_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    data = write_split_dir(tmp_path / "data")
    proc = run_inspect_cli(
        ["eval", "selfrat_eval/rewardbench", "-T", f"data={data}", *args, "--model", "selfrat/scripted"],
        tmp_path,
        check=False,
    )
    assert proc.returncode != 0
    assert message in " ".join((proc.stdout + proc.stderr).split())


def test_hf_provider_on_a_tiny_local_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    """``hf/<dir>``: plumbing and failure accounting. A greedy strategy needs ``do_sample=false``
    (said clearly); the hf provider cannot continue a message, so forced expected-score judgments
    get no distribution and are counted."""
    data = write_split_dir(tmp_path / "data")
    bench = Bench("feedback_bench", "feedback_bench", data, {"limit": 2})
    model = f"hf/{tiny_model_dir}"
    args = {"max_tokens": 4, "seed": 0}
    from inspect_ai import eval as inspect_eval

    from selfrat_eval.inspect_plugin.tasks import feedback_bench

    [log] = inspect_eval(
        feedback_bench(**bench.task_args()), model=model, log_dir=str(tmp_path / "a"), display="none", **args
    )
    assert log.status == "error" and "-M do_sample=false" in str(log.error.message)

    [log] = run_inspect_eval(
        None, [bench], tmp_path / "b", "expected-score", model=model, model_args={"do_sample": False}, **args
    )
    m = metrics_of(log)
    assert m["n"] == 2 and m["n_failed"] == m["n_forced"] == 2  # 4 tokens: never a [RESULT] marker
    draw = log.samples[0].store["selfrat_eval:decisions"]["score"]["draws"][0]
    assert draw["score_point"] == "HuggingFaceAPI cannot continue a message" and draw["forced"]

    [log] = run_inspect_eval(None, [bench], tmp_path / "c", "best-of-n", 2, model=model, **args)
    assert metrics_of(log)["sample_parse_rate"] == 0.0
    for s in log.samples:
        draws = s.store["selfrat_eval:decisions"]["score"]["draws"]
        assert len(draws) == 2 and all(d["mean_logprob"] < 0 for d in draws)


@pytest.mark.shared_data
@pytest.mark.skipif(not REWARDBENCH_CHAT.is_file(), reason="../shared/data is absent")
def test_shared_rewardbench_chat_slice_matches_the_runner(tmp_path: Path) -> None:
    bench = Bench("chat", "rewardbench", REWARDBENCH_CHAT, {"sections": "Chat", "limit": 20})
    with ScriptedJudgeServer() as server:
        want = run_runner(server.url, bench, tmp_path / "run", "self-consistency", 3)["metrics"]
    with ScriptedJudgeServer() as server:
        [log] = run_inspect_eval(server.url, [bench], tmp_path / "logs", "self-consistency", 3)
    got = metrics_of(log)
    assert_same_metrics(got, want, "rewardbench Chat")
    assert got["n"] == 20 and not math.isnan(got["chat"]) and "chat_hard" not in got
