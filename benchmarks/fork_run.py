"""Fork a training run after its sampling: a new run directory, under a new config, that reuses the
source run's data split, seed evaluation and iteration-1 samples and redoes everything after them
(curation, DPO, evaluation). This is how curation options are compared on the same samples: the
forks differ only in what the config changes after sampling.

    python benchmarks/fork_run.py runs/sre-any-rejected/seed0 \
        --config benchmarks/records/sre-contrast-balanced/seed0.yaml
    selfrat train --config benchmarks/records/sre-contrast-balanced/seed0.yaml --stop-after iter1/eval

The new config must agree with the source on everything that decides the reused stages (model,
data, seed, SFT, sampling, the validation gate but its number of DPO draws, the evaluation settings but its cache folder, and,
when inputs are re-sampled, the curation rules that pick them); this script checks that and refuses
otherwise. The reused stages are the source's planned stages up to iteration-1 sampling (the seed's
SFT, evaluation and validation where the run has them); all must be done.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import yaml

from selfrat_eval.training.config import TrainConfig
from selfrat_eval.training.pipeline import planned_stages

# what the reused stages depend on: a fork must not change it
SAME_SECTIONS = ("seed", "method", "model", "lora", "data", "sft", "sampling", "validation")
# re-sampling picks the inputs without a pair by these curation rules (sampling.resample_budget > 0)
RESAMPLING_CURATION_KEYS = ("strategy", "min_gap", "consistency")


def changed_sections(new: TrainConfig, old: TrainConfig) -> list[str]:
    """What ``new`` changes that the stages up to iteration-1 sampling depend on."""
    new_d, old_d = new.to_dict(), old.to_dict()
    for d in (new_d, old_d):  # how many DPO draws compete at the gate is decided after sampling
        d["validation"].pop("draws")
    changed = [s for s in SAME_SECTIONS if new_d[s] != old_d[s]]
    # the seed evaluation is reused; only where its cache lives may differ
    if {**new_d["evaluation"], "cache_dir": None} != {**old_d["evaluation"], "cache_dir": None}:
        changed.append("evaluation")
    if old.sampling.resample_budget > 0:
        changed += [f"curation.{k}" for k in RESAMPLING_CURATION_KEYS if new_d["curation"][k] != old_d["curation"][k]]
    return changed


def reused_stages(cfg: TrainConfig) -> list[str]:
    """The stages of a run of ``cfg`` up to and including iteration-1 sampling."""
    stages = planned_stages(cfg)
    return stages[: stages.index("iter1/sampling") + 1]


def fork(src: Path, cfg_path: Path) -> Path:
    cfg = TrainConfig.load(cfg_path)
    old = TrainConfig.load(src / "config.yaml")
    changed = changed_sections(cfg, old)
    if changed:
        raise SystemExit(f"{cfg_path}: differs from {src}/config.yaml in {changed}; a fork may change only later stages")
    dst = Path(cfg.output_dir)
    if dst.exists():
        raise SystemExit(f"{dst} exists; remove it or choose another output_dir")
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    reused = reused_stages(old)
    missing = [s for s in reused if manifest["stages"].get(s, {}).get("status") != "done"]
    if missing:
        raise SystemExit(f"{src}: stages {missing} are not done")
    for top in ["data", *dict.fromkeys(s.split("/")[0] for s in reused if not s.startswith("iter1/"))]:
        shutil.copytree(src / top, dst / top)
    (dst / "iter1").mkdir()
    for f in sorted((src / "iter1").glob("*.jsonl")):
        if f.name == "samples.jsonl" or f.name.startswith("resample"):
            shutil.copy2(f, dst / "iter1" / f.name)
    stages = {s: manifest["stages"][s] for s in reused}
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
