"""``selfrat evaluate`` and ``selfrat report`` (plugged into ``selfrat_eval.cli``).

The ``evaluate`` options are generated from :class:`~selfrat_eval.runner.config.RunConfig`, so the
command line and the Python API share one set of defaults.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config_cli import add_options, config_from_args
from .config import RunConfig


def register(subparsers: Any) -> None:
    ev = subparsers.add_parser(
        "evaluate",
        help="evaluate a judge on a benchmark (native runner)",
        description="Judge a benchmark with a local or served judge; writes results.json and report.html.",
    )
    add_options(ev, RunConfig)
    ev.set_defaults(func=evaluate_command)

    rep = subparsers.add_parser(
        "report",
        help="HTML report of one or more runs",
        description="Self-contained HTML report; several runs are compared side by side.",
    )
    rep.add_argument("runs", nargs="+", help="run folders (or results.json files)")
    rep.add_argument("--out", required=True, help="the .html file to write")
    rep.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    rep.set_defaults(func=report_command)


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..generation.errors import BackendError
    from ..records import DataError
    from ..rubric import RubricError

    return (DataError, RubricError, BackendError, FileNotFoundError, ValueError)


def _fail(command: str, exc: BaseException) -> int:
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"selfrat {command}: error: {message}", file=sys.stderr)
    return 2


def evaluate_command(args: argparse.Namespace) -> int:
    from .evaluate import REPORT_FILE, RESULTS_FILE, run_evaluation

    try:
        cfg = config_from_args(RunConfig, args)
        results = run_evaluation(cfg)
    except _user_errors() as exc:
        return _fail("evaluate", exc)
    m = results["metrics"]
    primary = results["primary_metric"]
    shown = [primary, "parse_rate"] + [k for k in ("spearman", "accuracy", "chat", "chat_hard", "safety", "reasoning") if k in m]
    numbers = ", ".join(f"{k}={m[k]:.3f}" if m.get(k) is not None else f"{k}=n/a" for k in dict.fromkeys(shown))
    gen = results["generation"]
    print(f"{cfg.benchmark} ({results['strategy']}): {numbers}")
    print(
        f"samples {gen['n_samples']} (re-sampled {gen['resampled']}, failed {gen['failed_after_retries']}, "
        f"too long {gen['too_long']}), cache hits {gen['cache_hits']} / misses {gen['cache_misses']}, {gen['seconds']} s"
    )
    print(f"wrote {cfg.out}/{RESULTS_FILE}" + ("" if not cfg.report else f" and {cfg.out}/{REPORT_FILE}"))
    return 0


def report_command(args: argparse.Namespace) -> int:
    from .report import write_report

    out = Path(args.out)
    try:
        if out.is_dir():
            raise ValueError(f"--out {out} is a folder; name the .html file to write")
        if out.exists() and not args.force:
            raise ValueError(f"--out {out} exists; pass --force to overwrite it")
        path = write_report(args.runs, out)
    except (*_user_errors(), KeyError, OSError) as exc:
        return _fail("report", exc)
    print(f"wrote {path}")
    return 0
