"""``selfrat`` command line. Each sub-command lives in the module that does the work and is
imported only when used, so ``selfrat --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# sub-command -> module exposing ``register(subparsers)``; the parser it adds sets ``func``.
SUBCOMMANDS: dict[str, str] = {
    "evaluate": "selfrat_eval.runner.cli",
    "report": "selfrat_eval.runner.cli",
    "train": "selfrat_eval.training.cli",
    "recipes": "selfrat_eval.training.recipes",
    "demo": "selfrat_eval.demo.cli",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="selfrat", description="Self-rationalizing LLM judges.")
    parser.add_argument("--version", action="version", version=f"selfrat-eval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [a for a in argv if a in SUBCOMMANDS][:1]
    modules = {SUBCOMMANDS[w] for w in wanted} if wanted else set(SUBCOMMANDS.values())
    for module_name in sorted(modules):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if wanted:
                raise SystemExit(
                    f"selfrat: {wanted[0]} is unavailable ({exc}); install the matching extra"
                ) from exc
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # datasets' per-file "Generating train split" bars would bury the one-line errors and the
    # command's own progress bar; set before datasets is imported (an explicit setting wins).
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C is a user decision, not a crash: every command resumes from what it wrote.
        print("selfrat: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
