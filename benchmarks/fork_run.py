"""Fork a training run after its sampling: a new run directory, under a new config, that reuses the
source run's data split, seed evaluation and iteration-1 samples and redoes everything after them
(curation, DPO, evaluation). This is how curation options are compared on the same samples: the
forks differ only in what the config changes after sampling.

    python benchmarks/fork_run.py runs/sre-any-rejected/seed0 \
        --config benchmarks/records/sre-contrast-balanced/seed0.yaml
    selfrat train --config benchmarks/records/sre-contrast-balanced/seed0.yaml --stop-after iter1/eval

The new config must agree with the source on everything that decides the reused stages (model,
data, seed, sampling); this script checks those sections and refuses otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import yaml

from selfrat_eval.training.config import TrainConfig

REUSED_STAGES = ("base/eval", "iter1/sampling")
# what the reused stages depend on: a fork must not change it
SAME_SECTIONS = ("seed", "method", "model", "lora", "data", "sft", "sampling")


def fork(src: Path, cfg_path: Path) -> Path:
    cfg = TrainConfig.load(cfg_path)
    old = TrainConfig.load(src / "config.yaml")
    new_d, old_d = cfg.to_dict(), old.to_dict()
    changed = [s for s in SAME_SECTIONS if new_d[s] != old_d[s]]
    if changed:
        raise SystemExit(f"{cfg_path}: differs from {src}/config.yaml in {changed}; a fork may change only later stages")
    dst = Path(cfg.output_dir)
    if dst.exists():
        raise SystemExit(f"{dst} exists; remove it or choose another output_dir")
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    missing = [s for s in REUSED_STAGES if manifest["stages"].get(s, {}).get("status") != "done"]
    if missing:
        raise SystemExit(f"{src}: stages {missing} are not done")
    shutil.copytree(src / "data", dst / "data")
    shutil.copytree(src / "base", dst / "base")
    (dst / "iter1").mkdir()
    for f in sorted((src / "iter1").glob("*.jsonl")):
        if f.name == "samples.jsonl" or f.name.startswith("resample"):
            shutil.copy2(f, dst / "iter1" / f.name)
    stages = {s: manifest["stages"][s] for s in REUSED_STAGES}
    out = {"fingerprint": cfg.fingerprint(), "method": cfg.method, "stages": stages, "forked_from": str(src)}
    (dst / "manifest.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    (dst / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="run directory whose sampling is done")
    ap.add_argument("--config", type=Path, required=True, help="the fork's config (its output_dir is created)")
    args = ap.parse_args(argv)
    print(fork(args.source, args.config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
