"""Front-end parity: the same judge, benchmark and strategy through every front end, compared.

Each front end runs against its own fresh :class:`~selfrat_eval.testing.ScriptedJudgeServer`
(answers are a function of the request, so every front end gets the same judgments), on the same
local data files. A run gives the prompts the server saw (one entry per drawn judgment) and the
metrics the front end reported; :func:`compare` checks both. Used by ``tests/test_parity.py`` and
``benchmarks/bench_parity.py``.

    python -m selfrat_eval.parity --data-dir DIR   # DIR holds biggen.jsonl, feedback_bench.jsonl, rewardbench.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocols import BenchmarkOptions, StrategyConfig, get_protocol
from .testing import ScriptedJudgeServer

FRONT_ENDS = ("runner", "lm_eval", "inspect")
MODEL = "scripted-judge"


@dataclass(frozen=True)
class Case:
    """One benchmark x mode x strategy combination."""

    benchmark: str
    strategy: str
    mode: str | None = None
    n: int = 4

    @property
    def name(self) -> str:
        mode = f"/{self.mode}" if self.mode else ""
        return f"{self.benchmark}{mode} {self.strategy}"

    def strategy_config(self) -> StrategyConfig:
        single = self.strategy in ("greedy", "expected-score")
        return StrategyConfig(self.strategy, n=None if single else self.n)  # type: ignore[arg-type]

    def options(self, data: Path) -> BenchmarkOptions:
        return BenchmarkOptions(data=str(data), mode=self.mode)  # type: ignore[arg-type]

    def lm_eval_task(self) -> str:
        suffix = {"greedy": "", "self-consistency": "_sc", "best-of-n": "_bon", "expected-score": "_es"}[self.strategy]
        mode = "_pointwise" if self.mode == "pointwise" else ""
        return f"selfrat_{self.benchmark}{mode}{suffix}"


CASES = tuple(
    Case(b, s, m)
    for b, m in (("biggen", None), ("feedback_bench", None), ("rewardbench", None), ("rewardbench", "pointwise"))
    for s in ("greedy", "self-consistency", "best-of-n", "expected-score")
)


@dataclass
class FrontEndRun:
    front_end: str
    metrics: dict[str, float]
    prompts: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def _server(logprobs: bool) -> ScriptedJudgeServer:
    return ScriptedJudgeServer(logprobs=logprobs).start()


def run_runner(case: Case, data: Path, workdir: Path, *, logprobs: bool = True) -> FrontEndRun:
    from .runner.config import RunConfig
    from .runner.evaluate import run_evaluation

    server = _server(logprobs)
    try:
        cfg = RunConfig(
            judge=MODEL,
            benchmark=case.benchmark,
            out=str(workdir / "runner"),
            options=case.options(data),
            strategy=case.strategy_config(),
            backend=_openai(server.url),
            no_cache=True,
            bootstrap=0,
            report=False,
            show_progress=False,
        )
        results = run_evaluation(cfg)
        metrics = {k: math.nan if v is None else float(v) for k, v in results["metrics"].items()}
        return FrontEndRun("runner", metrics, server.prompts())
    finally:
        server.stop()


def _openai(url: str) -> Any:
    from .generation.factory import BackendConfig

    return BackendConfig(name="openai", base_url=url)


def run_lm_eval(case: Case, data: Path, workdir: Path, *, logprobs: bool = True) -> FrontEndRun:
    """``lm_eval`` with ``--model selfrat-judge --model_args base=local-chat-completions,...``."""
    import lm_eval

    import selfrat_eval.lm_eval_plugin.judge_model  # noqa: F401 - registers selfrat-judge

    server = _server(logprobs)
    try:
        metadata = {"data": str(data), "n": case.n}
        results = lm_eval.simple_evaluate(
            task_manager=_task_manager(metadata),
            model="selfrat-judge",
            model_args=f"base=local-chat-completions,model={MODEL},base_url={server.url}/chat/completions,tokenizer_backend=None",
            tasks=[case.lm_eval_task()],
            apply_chat_template=True,
            metadata=metadata,
            bootstrap_iters=0,
        )
        values = results["results"][case.lm_eval_task()]
        metrics = {
            k.split(",")[0]: float(v)
            for k, v in values.items()
            if "," in k and "_stderr" not in k and isinstance(v, (int, float))
        }
        return FrontEndRun("lm_eval", metrics, server.prompts())
    finally:
        server.stop()


def _task_manager(metadata: dict[str, Any]) -> Any:
    """A task index of our folder only: indexing lm-eval's thousands of built-in tasks takes ~10 s
    per run, and the selfrat tasks need none of them."""
    from lm_eval.tasks import TaskManager

    from .lm_eval_plugin.paths import task_dir

    return TaskManager(include_path=str(task_dir()), include_defaults=False, metadata=metadata)


def run_inspect(case: Case, data: Path, workdir: Path, *, logprobs: bool = True) -> FrontEndRun:
    """``inspect eval selfrat_eval/<benchmark> --model openai-api/scripted/<model>``."""
    from inspect_ai import eval as inspect_eval

    server = _server(logprobs)
    old = {k: os.environ.get(k) for k in ("SCRIPTED_API_KEY",)}
    os.environ.update(SCRIPTED_API_KEY="x")  # the openai-api provider wants a key, the server none
    try:
        args: dict[str, Any] = {"data": str(data), "strategy": case.strategy}
        if case.mode:
            args["mode"] = case.mode
        if case.strategy not in ("greedy", "expected-score"):
            args["n"] = case.n
        logs = inspect_eval(
            f"selfrat_eval/{case.benchmark}",
            task_args=args,
            model=f"openai-api/scripted/{MODEL}",
            # explicit URL: Inspect caches models by name and base URL, an env var would reuse a dead server
            model_base_url=server.url,
            log_dir=str(workdir / "inspect-logs"),
            display="none",
            max_retries=1,
        )
        log = logs[0]
        if log.status != "success":
            raise RuntimeError(f"inspect eval failed: {log.error}")
        metrics: dict[str, float] = {}
        for score in log.results.scores if log.results else []:
            for name, metric in score.metrics.items():
                metrics[name] = float(metric.value)
        return FrontEndRun("inspect", metrics, server.prompts())
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


RUNNERS = {"runner": run_runner, "lm_eval": run_lm_eval, "inspect": run_inspect}


@dataclass
class Comparison:
    case: Case
    reference: FrontEndRun
    other: FrontEndRun
    same_prompts: bool
    metric_diffs: dict[str, tuple[float, float]]  # name -> (reference, other) where they differ
    compared: list[str]

    @property
    def ok(self) -> bool:
        return self.same_prompts and not self.metric_diffs and bool(self.compared)


def _same(a: float, b: float, tol: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def compare(case: Case, reference: FrontEndRun, other: FrontEndRun, names: list[str]) -> Comparison:
    """Same multiset of prompts, and the same value for every metric ``other`` reports of ``names``."""
    compared = [n for n in names if n in other.metrics and n in reference.metrics]
    diffs = {
        n: (reference.metrics[n], other.metrics[n])
        for n in compared
        if not _same(reference.metrics[n], other.metrics[n])
    }
    return Comparison(case, reference, other, Counter(reference.prompts) == Counter(other.prompts), diffs, compared)


def metric_names(case: Case, data: Path) -> list[str]:
    protocol = get_protocol(case.benchmark, case.options(data))
    labels = [protocol.labels(i) for i in protocol.load().items]
    return protocol.metric_names(labels, case.strategy_config())


def check_case(
    case: Case, data: Path, workdir: Path, *, front_ends: tuple[str, ...] = FRONT_ENDS, logprobs: bool = True
) -> list[Comparison]:
    """Run ``case`` through every front end and compare each with the runner."""
    runs = {fe: RUNNERS[fe](case, data, workdir / fe, logprobs=logprobs) for fe in front_ends}
    names = metric_names(case, data)
    reference = runs[front_ends[0]]
    return [compare(case, reference, runs[fe], names) for fe in front_ends[1:]]


def write_parity_data(root: Path) -> dict[str, Path]:
    """Small files in the public layouts of BiGGen-Bench-Results, Feedback Bench and RewardBench."""
    root.mkdir(parents=True, exist_ok=True)
    rubric = {"criteria": "Is the answer correct and clear?", **{f"score{i}_description": f"Level {i}." for i in range(1, 6)}}
    caps = ("planning", "reasoning", "safety")
    biggen = [
        {
            "id": f"{caps[i % 3]}_task_{i}", "capability": caps[i % 3], "task": "task", "instance_idx": i,
            "system_prompt": "You are helpful.", "input": f"Question {i}?", "reference_answer": f"Answer {i}.",
            "score_rubric": rubric, "model_name": model, "response": f"Reply {i} from {model}.",
            "human_score": (i + 2 * m) % 5 + 1,
        }
        for i in range(9)
        for m, model in enumerate(("model-a", "model-b"))
    ]
    feedback = [
        {
            "orig_instruction": f"Explain item {i}.", "orig_response": f"Item {i} explained.",
            "orig_reference_answer": f"Reference {i}.", "orig_criteria": rubric["criteria"],
            **{f"orig_score{k}_description": f"Level {k}." for k in range(1, 6)},
            "orig_score": str(i % 5 + 1), "orig_feedback": "Fine.", "output": f"Fine. [RESULT] {i % 5 + 1}",
            "__index_level_0__": 100 + i,
        }
        for i in range(15)
    ]
    subsets = ("alpacaeval-easy", "mt-bench-hard", "llmbar-natural", "refusals-dangerous", "math-prm", "hep-python")
    rewardbench = [
        {"prompt": f"Prompt {s}-{k}?", "chosen": f"Good answer {s}-{k}.", "chosen_model": "good",
         "rejected": f"Bad answer {s}-{k}.", "rejected_model": "bad", "subset": subset, "id": s * 100 + k}
        for s, subset in enumerate(subsets)
        for k in range(3)
    ]
    out = {}
    for name, rows in (("biggen", biggen), ("feedback_bench", feedback), ("rewardbench", rewardbench)):
        out[name] = root / f"{name}.jsonl"
        out[name].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def table(comparisons: list[Comparison]) -> str:
    lines = ["| case | front end | prompts identical | metrics identical | metrics compared |", "|---|---|---|---|---|"]
    for c in comparisons:
        lines.append(
            f"| {c.case.name} | {c.other.front_end} | {'yes' if c.same_prompts else 'NO'} | "
            f"{'yes' if not c.metric_diffs else 'NO: ' + ', '.join(sorted(c.metric_diffs))} | {len(c.compared)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfrat_eval.parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--front-ends", nargs="+", default=list(FRONT_ENDS), choices=FRONT_ENDS)
    parser.add_argument("--out", help="write the comparison as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_parity_data(Path(tmp) / "data")
        comparisons: list[Comparison] = []
        for case in CASES:
            comparisons += check_case(case, files[case.benchmark], Path(tmp) / case.name.replace(" ", "_").replace("/", "_"), front_ends=tuple(args.front_ends))
        print(table(comparisons))
        if args.out:
            Path(args.out).write_text(json.dumps([_as_json(c) for c in comparisons], indent=1), encoding="utf-8")
    return 0 if all(c.ok for c in comparisons) else 1


def _as_json(c: Comparison) -> Mapping[str, Any]:
    return {
        "case": c.case.name,
        "front_end": c.other.front_end,
        "same_prompts": c.same_prompts,
        "metric_diffs": {k: list(v) for k, v in c.metric_diffs.items()},
        "metrics_compared": c.compared,
        "reference_metrics": c.reference.metrics,
    }


if __name__ == "__main__":
    raise SystemExit(main())
