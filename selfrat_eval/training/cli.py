"""``selfrat train --config X.yaml [key.path=value ...]`` and ``python -m selfrat_eval.training``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        required=True,
        help="training recipe: a YAML path or a shipped recipe's name, e.g. sre-smollm2-cpu (see `selfrat recipes`)",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. dpo.beta=0.2 iterations=[100,10]")
    p.add_argument("--set", dest="set_", action="append", default=[], metavar="KEY=VALUE", help="same as a positional override")
    p.add_argument("--output-dir", help="shortcut for output_dir=...")
    p.add_argument("--method", choices=["self-rationalization", "sft-only", "rejection-sampling"], help="shortcut for method=...")
    p.add_argument("--report-to", help="trl/transformers report_to: none, tensorboard, wandb, ...")
    p.add_argument("--dry-run", action="store_true", help="validate and print the resolved config, train nothing")
    p.add_argument(
        "--stop-after",
        metavar="STAGE",
        help="stop once this stage is done (sft, iter1/sampling, iter1/dpo, ...); the same command without it resumes",
    )


def _fail(exc: Exception) -> int:
    """User errors (bad config, data, rubric) as one line on stderr, exit code 2: no traceback."""
    print(f"selfrat train: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from ..records import DataError
    from ..rubric import RubricError
    from .config import ConfigError, TrainConfig

    overrides = list(args.overrides) + list(args.set_)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    if args.method:
        overrides.append(f"method={args.method}")
    if args.report_to:
        overrides.append(f"report_to={args.report_to}")
    from .recipes import RecipeNotFound, resolve_config

    try:
        cfg = TrainConfig.load(resolve_config(args.config), overrides)
    except (ConfigError, RecipeNotFound) as exc:
        return _fail(exc)
    if args.dry_run:
        print(json.dumps(cfg.to_dict(), indent=1))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .pipeline import run_pipeline

    try:
        summary = run_pipeline(cfg, stop_after=args.stop_after)
    except (ConfigError, DataError, RubricError) as exc:
        return _fail(exc)
    print(json.dumps(summary, indent=1, default=float))
    if "stopped_after" in summary:
        print(f"stopped after {summary['stopped_after']}; run again without --stop-after to go on")
    else:
        print(f"report: {cfg.output_dir}/report.md")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="self-rationalization training (SFT, self-sampling, DPO)")
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m selfrat_eval.training", description="self-rationalization training")
    add_arguments(p)
    return run(p.parse_args(argv))
