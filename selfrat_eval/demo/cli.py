"""``selfrat demo``: the offline end-to-end demo (see docs/demo.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .pipeline import DEFAULT_SHARED_DATA, preset_names

    p = subparsers.add_parser(
        "demo",
        help="train a judge by self-rationalization on bundled data and report it against baselines",
        description=(
            "A preset (selfrat_eval/demo/presets/*.yaml) for `selfrat train` + `selfrat evaluate`: bundled synthetic "
            "data -> seed SFT, RS-SFT baseline and 2 self-rationalization iterations -> every judge judged greedily "
            "and with expected-score (plus self-consistency and best-of-N of the seed) on a held-out split -> "
            "report. No download needed. Re-running with the same --out resumes (training's manifest, the runner's cache)."
        ),
    )
    p.add_argument("--preset", default="smollm2",
                   help=f"a shipped preset ({', '.join(preset_names())}) or a preset .yaml file; "
                        "tiny: local 2-layer model, ~2 min (smoke test); smollm2: SmolLM2-135M")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/demo-<preset>)")
    p.add_argument("--seed", type=int, default=None, help="seed for data, sampling and training (default: the preset's)")
    p.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED_DATA,
                   help="folder with reward-bench/chat_and_chat_hard.jsonl for the optional RewardBench slice")
    p.add_argument("--no-rewardbench", action="store_true", help="skip the RewardBench slice")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field (YAML value), e.g. --set data.n_heldout=100 "
                        "--set train.dpo.beta=0.2 --set train.iterations=[64,32] (repeatable)")
    p.add_argument("--seed-judge", type=Path, default=None,
                   help="start from this trained SFT judge (a model folder) instead of the preset's seed SFT")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..training.config import ConfigError
    from .pipeline import DemoError, load_preset, run_demo

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides = list(args.overrides) + (["rewardbench.pairs=0"] if args.no_rewardbench else [])
    try:
        preset = load_preset(args.preset, overrides, seed=args.seed)
        out = args.out or Path("runs") / f"demo-{preset.name}"
        run = run_demo(preset, out, shared_data=args.shared_data, seed_judge=args.seed_judge)
    except (DemoError, ConfigError) as exc:
        print(f"selfrat demo: {exc}")
        return 2
    print(f"report: {run.report['html']}\njson:   {run.report['json']}\nwall time {run.manifest['wall_time_s']}s, "
          f"peak RSS {run.manifest['peak_rss_mb']} MB")
    return 0
