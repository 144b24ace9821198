"""``selfrat evaluate`` and ``selfrat report`` (plugged into ``selfrat_eval.cli``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..generation.base import SamplingConfig
from .config import BENCHMARKS, MODES, PROMPT_FORMATS, STRATEGIES, RunConfig

_DEFAULT = SamplingConfig()


def register(subparsers: Any) -> None:
    ev = subparsers.add_parser(
        "evaluate",
        help="evaluate a judge on a benchmark (native runner)",
        description="Judge a benchmark with a local or served judge; writes results.json and report.html.",
    )
    ev.add_argument(
        "--judge", required=True, help="model folder, Hub id, .gguf file, or served model name (openai)"
    )
    ev.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    ev.add_argument("--data", help="local file/folder or Hub id overriding the benchmark's default source")
    ev.add_argument("--split", help="dataset split (default: the benchmark's)")
    ev.add_argument(
        "--rubric",
        help="rubric name or .yaml/.json file (custom: for every row; rewardbench: 'auto' = per section)",
    )
    ev.add_argument(
        "--mode",
        choices=MODES,
        default="pointwise",
        help="rewardbench: grade each response, or A/B in both orders",
    )
    ev.add_argument(
        "--allow-inconsistent",
        action="store_true",
        help="pairwise: average the two orders instead of requiring agreement",
    )
    ev.add_argument("--strategy", choices=STRATEGIES, default="greedy")
    ev.add_argument(
        "--n", type=int, default=8, help="samples per prompt for self-consistency / best-of-n (default 8)"
    )
    ev.add_argument("--sc-method", choices=("majority", "mean", "median"), default="majority")
    ev.add_argument(
        "--select-by",
        choices=("logprob", "scorer", "majority"),
        default="logprob",
        help="best-of-n selection",
    )
    ev.add_argument(
        "--scorer", help="best-of-n external scorer 'module:function' (takes a Judgment, returns a float)"
    )
    ev.add_argument("--backend", choices=("hf", "vllm", "openai"), default="hf")
    ev.add_argument("--adapter", help="PEFT adapter folder applied to the judge")
    ev.add_argument("--gguf-file", help="GGUF file name inside the --judge folder")
    ev.add_argument(
        "--base-url",
        help="openai backend: server URL (default $OPENAI_BASE_URL or http://127.0.0.1:8000/v1); key from $OPENAI_API_KEY",
    )
    ev.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm backend")
    ev.add_argument("--dtype", help="model dtype (float32, bfloat16, float16, auto)")
    ev.add_argument("--device", help="hf backend device (default cuda if available else cpu)")
    ev.add_argument("--batch-size", type=int, default=16, help="hf backend: sequences per generate call")
    ev.add_argument(
        "--prompt-format", choices=PROMPT_FORMATS, default="auto", help="chat messages or plain text"
    )
    ev.add_argument("--temperature", type=float, default=_DEFAULT.temperature)
    ev.add_argument("--top-p", type=float, default=_DEFAULT.top_p)
    ev.add_argument("--max-new-tokens", type=int, default=_DEFAULT.max_new_tokens)
    ev.add_argument("--repetition-penalty", type=float, default=_DEFAULT.repetition_penalty)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--limit", type=int, help="evaluate only the first N items")
    ev.add_argument("--subsets", nargs="+", help="rewardbench: keep only these subsets")
    ev.add_argument("--sections", nargs="+", help="rewardbench: keep only these sections")
    ev.add_argument(
        "--max-retries",
        type=int,
        default=0,
        help="re-sampling rounds for unparsable outputs (reference library: 10)",
    )
    ev.add_argument(
        "--chunk-size", type=int, default=32, help="prompts per cached batch (resume granularity)"
    )
    ev.add_argument(
        "--cache-dir", help="generation cache (default $SELFRAT_CACHE or ~/.cache/selfrat-eval/generations)"
    )
    ev.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    ev.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (0 = none)")
    ev.add_argument("--no-report", action="store_true", help="skip report.html")
    ev.add_argument("--no-progress", action="store_true")
    ev.add_argument("--out", required=True, help="run folder for results.json and report.html")
    ev.set_defaults(func=evaluate_command)

    rep = subparsers.add_parser(
        "report",
        help="HTML report of one or more runs",
        description="Self-contained HTML report; several runs are compared side by side.",
    )
    rep.add_argument("runs", nargs="+", help="run folders (or results.json files)")
    rep.add_argument("--out", default="report.html")
    rep.set_defaults(func=report_command)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    sampling = SamplingConfig(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        repetition_penalty=args.repetition_penalty,
    )
    return RunConfig(
        judge=args.judge,
        benchmark=args.benchmark,
        out=args.out,
        data=args.data,
        split=args.split,
        rubric=args.rubric,
        mode=args.mode,
        require_consistent=not args.allow_inconsistent,
        strategy=args.strategy,
        n=args.n,
        sc_method=args.sc_method,
        select_by=args.select_by,
        scorer=args.scorer,
        backend=args.backend,
        adapter=args.adapter,
        gguf_file=args.gguf_file,
        base_url=args.base_url,
        tensor_parallel_size=args.tensor_parallel_size,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        prompt_format=args.prompt_format,
        sampling=sampling,
        seed=args.seed,
        limit=args.limit,
        subsets=args.subsets,
        sections=args.sections,
        max_retries=args.max_retries,
        chunk_size=args.chunk_size,
        cache_dir=args.cache_dir,
        no_cache=args.no_cache,
        bootstrap=args.bootstrap,
        report=not args.no_report,
        show_progress=not args.no_progress,
    )


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..generation.errors import BackendError
    from ..records import DataError
    from ..rubric import RubricError

    return (DataError, RubricError, BackendError, FileNotFoundError, ValueError)


def evaluate_command(args: argparse.Namespace) -> int:
    from .evaluate import REPORT_FILE, RESULTS_FILE, run_evaluation
    from .report import headline

    try:
        cfg = config_from_args(args)
        results = run_evaluation(cfg)
    except _user_errors() as exc:
        print(f"selfrat evaluate: error: {exc}", file=sys.stderr)
        return 2
    numbers = ", ".join(f"{k}={v:.3f}" for k, (v, _) in headline(results).items() if isinstance(v, float))
    gen = results["generation"]
    print(f"{cfg.benchmark}: {numbers}")
    print(
        f"samples {gen['n_samples']} (re-sampled {gen['resampled']}, failed {gen['failed_after_retries']}), "
        f"cache hits {gen['cache_hits']} / misses {gen['cache_misses']}, {gen['seconds']} s"
    )
    print(f"wrote {cfg.out}/{RESULTS_FILE}" + ("" if not cfg.report else f" and {cfg.out}/{REPORT_FILE}"))
    return 0


def report_command(args: argparse.Namespace) -> int:
    from .report import write_report

    try:
        path = write_report(args.runs, args.out)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"selfrat report: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
