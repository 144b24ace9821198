"""Helpers for the Inspect plugin tests: benchmark files, the two front ends (``selfrat evaluate``
and Inspect, in-process or the real CLI) run against a :class:`ScriptedJudgeServer`, and
comparisons of their prompts and metrics."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_fixtures import biggen_results_rows, feedback_rows, rewardbench_rows, write_jsonl

from selfrat_eval.testing import ScriptedJudgeServer

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "INSPECT_DISPLAY": "none",
}
SCRIPTED_MODEL = "openai-api/scripted/scripted-judge"


@dataclass(frozen=True)
class Bench:
    """One benchmark configuration, run the same way through both front ends."""

    name: str  # a label for the test ids
    benchmark: str
    data: Path
    options: dict[str, Any] = field(default_factory=dict)  # BenchmarkOptions names -> values

    def runner_args(self) -> list[str]:
        args = ["--benchmark", self.benchmark, "--data", str(self.data)]
        for k, v in self.options.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        return args

    def task_args(self) -> dict[str, Any]:
        return {"data": str(self.data), **self.options}


def write_benches(root: Path) -> list[Bench]:
    """biggen (human_eval layout), feedback_bench, rewardbench pointwise and pairwise."""
    biggen = write_jsonl(root / "biggen_human_eval.jsonl", biggen_results_rows())
    feedback = write_jsonl(root / "feedback.jsonl", feedback_rows())
    rewardbench = write_jsonl(root / "rewardbench.jsonl", rewardbench_rows())
    return [
        Bench("biggen", "biggen", biggen),
        Bench("feedback_bench", "feedback_bench", feedback),
        Bench("rewardbench_pointwise", "rewardbench", rewardbench, {"mode": "pointwise"}),
        Bench("rewardbench_pairwise", "rewardbench", rewardbench, {"mode": "pairwise"}),
    ]


def strategy_args(strategy: str, n: int | None) -> dict[str, Any]:
    return {"strategy": strategy, **({"n": n} if n else {})}


# ---- the two front ends --------------------------------------------------------------------------


def run_runner(url: str, bench: Bench, out: Path, strategy: str, n: int | None = None) -> dict[str, Any]:
    """``selfrat evaluate --backend openai`` against the scripted server; the results JSON."""
    from selfrat_eval.cli import main

    args = [
        "evaluate",
        "--judge",
        "scripted-judge",
        "--backend",
        "openai",
        "--base-url",
        url,
        *bench.runner_args(),
    ]
    args += [
        "--out",
        str(out),
        "--no-cache",
        "--no-report",
        "--no-progress",
        "--bootstrap",
        "0",
        "--strategy",
        strategy,
    ]
    args += ["--n", str(n)] if n else []
    assert main(args) == 0
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@contextmanager
def scripted_key() -> Iterator[None]:
    """``openai-api/scripted/...`` reads its API key from ``SCRIPTED_API_KEY``. (Its base URL is
    passed explicitly: Inspect memoizes models by name and base URL, so an URL from the environment
    would reuse the model of an earlier server.)"""
    saved = os.environ.get("SCRIPTED_API_KEY")
    os.environ["SCRIPTED_API_KEY"] = "x"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SCRIPTED_API_KEY", None)
        else:
            os.environ["SCRIPTED_API_KEY"] = saved


def run_inspect_eval(
    url: str | None,
    benches: Sequence[Bench],
    log_dir: Path,
    strategy: str,
    n: int | None = None,
    model: str = SCRIPTED_MODEL,
    **eval_args: Any,
) -> list[Any]:
    """``inspect_ai.eval`` of the benches' tasks in one call; the logs in bench order."""
    from inspect_ai import eval as inspect_eval

    from selfrat_eval.inspect_plugin import tasks as inspect_tasks

    tasks = [
        getattr(inspect_tasks, b.benchmark)(**b.task_args(), **strategy_args(strategy, n)) for b in benches
    ]
    eval_args.setdefault("max_retries", 1)  # a broken server fails the test quickly, not after backoffs
    with scripted_key():
        logs = inspect_eval(
            tasks, model=model, model_base_url=url, log_dir=str(log_dir), display="none", **eval_args
        )
    for log in logs:
        assert log.status == "success", f"{log.eval.task}: {log.status} {log.error}"
    return [_log_of(logs, b) for b in benches]


def _log_of(logs: Sequence[Any], bench: Bench) -> Any:
    [log] = [
        log
        for log in logs
        if log.eval.task == f"selfrat_eval/{bench.benchmark}"
        and all(log.eval.task_args.get(k) == v for k, v in bench.task_args().items())
    ]
    return log


def run_inspect_cli(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``inspect ...`` (the real CLI) offline; with ``check``, fail with its output on an error."""
    inspect_bin = Path(sys.executable).with_name("inspect")
    proc = subprocess.run(
        [str(inspect_bin), *args],
        cwd=cwd,
        env={**os.environ, **OFFLINE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert proc.returncode == 0, (
            f"inspect {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def read_logs(log_dir: Path) -> dict[str, Any]:
    """Eval logs in ``log_dir`` by task name (without the package prefix)."""
    from inspect_ai.log import read_eval_log

    logs = {}
    for f in sorted(log_dir.glob("*.eval")):
        log = read_eval_log(str(f))
        assert log.status == "success", f"{f}: {log.status} {log.error}"
        logs[log.eval.task.split("/")[-1]] = log
    return logs


# ---- comparisons ---------------------------------------------------------------------------------


def metrics_of(log: Any) -> dict[str, float]:
    """The ``judge_scorer`` metrics of an Inspect log."""
    [score] = [s for s in log.results.scores if s.name == "judge_scorer"]
    return {name: m.value for name, m in score.metrics.items()}


def drawn_prompts(server: ScriptedJudgeServer) -> Counter[str]:
    """The multiset of prompts the judge drew from: each generation request's messages, once per
    choice it asked for (the runner asks for n choices at once, Inspect for one per seeded call);
    expected-score continuation requests excluded."""
    return Counter(server.prompts())


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)  # results.json writes NaN as null


def assert_same_metrics(got: Mapping[str, Any], want: Mapping[str, Any], what: str = "") -> None:
    """Same keys; NaN (or null) equals NaN; floats equal to 1e-12."""
    assert set(got) == set(want), f"{what}: metric names differ: {sorted(set(got) ^ set(want))}"
    diff = {}
    for k in want:
        a, b = _num(got[k]), _num(want[k])
        if not ((math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12):
            diff[k] = (got[k], want[k])
    assert not diff, f"{what}: metrics differ (inspect, runner): {diff}"


def custom_rows(n: int = 8) -> list[dict[str, Any]]:
    """The custom benchmark's layout: instruction, response, optional score and group."""
    return [
        {
            "id": f"c{i}",
            "instruction": f"Custom question {i}?",
            "response": f"Custom answer {i}",
            "score": i % 5 + 1,
            "group": "even" if i % 2 == 0 else "odd",
        }
        for i in range(n)
    ]


def write_split_dir(root: Path) -> Path:
    """One folder serving biggen, feedback_bench and rewardbench through their default split names
    (``human_eval``, ``train``, ``filtered``), so one ``-T data=`` fits all three."""
    write_jsonl(root / "human_eval.jsonl", biggen_results_rows())
    write_jsonl(root / "train.jsonl", feedback_rows())
    write_jsonl(root / "filtered.jsonl", rewardbench_rows())
    return root
