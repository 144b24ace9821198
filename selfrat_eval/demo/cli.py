"""``selfrat demo``: the offline end-to-end demo (see docs/demo.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .pipeline import DEFAULT_SHARED_DATA, PRESETS

    p = subparsers.add_parser(
        "demo",
        help="train a judge by self-rationalization on bundled data and report it against baselines",
        description=(
            "Seed SFT -> 2 self-rationalization iterations -> evaluation of the SFT seed, self-consistency, "
            "best-of-N, rejection-sampling SFT and both iterations on a held-out synthetic split. "
            "No download needed. Re-running with the same --out resumes."
        ),
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="smollm2",
                   help="tiny: local 2-layer model, < 2 min (smoke test); smollm2: SmolLM2-135M, ~30 min on CPU")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/demo-<preset>)")
    p.add_argument("--seed", type=int, default=None, help="seed for data, sampling and training (default: preset's)")
    p.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED_DATA,
                   help="folder with reward-bench/chat_and_chat_hard.jsonl for the optional RewardBench slice")
    p.add_argument("--no-rewardbench", action="store_true", help="skip the RewardBench slice")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field, e.g. --set eval_n=8 --set data.n_heldout=100 "
                        "--set dpo.learning_rate=1e-4 --set iterations=[64,32] (repeatable)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from .pipeline import PRESETS, DemoError, override_preset, run_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        preset = override_preset(PRESETS[args.preset], args.overrides)
    except DemoError as exc:
        print(f"selfrat demo: {exc}")
        return 2
    if args.seed is not None:
        preset = preset.replace(seed=args.seed, data=dataclasses.replace(preset.data, seed=args.seed))
    if args.no_rewardbench:
        preset = preset.replace(rewardbench_pairs=0)
    out = args.out or Path("runs") / f"demo-{preset.name}"
    try:
        run = run_demo(preset, out, shared_data=args.shared_data)
    except DemoError as exc:
        print(f"selfrat demo: {exc}")
        return 2
    report = run.report
    print(f"report: {report['html']}\njson:   {report['json']}\nwall time {run.manifest['wall_time_s']}s, "
          f"peak RSS {run.manifest['peak_rss_mb']} MB")
    return 0
