"""A training run's stage times, validation / held-out Pearsons and per-iteration curation counts,
as one small JSON a record can keep when ``runs/`` (the models) cannot be kept.

    python benchmarks/run_summary.py runs/sre-3seed/seed0 benchmarks/records/sre-3seed-it2/run-seed0.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CURATION_KEYS = ("n_samples", "parse_rate", "n_pairs_before_balance", "n_pairs_before_contrast_balance", "n_pairs",
                 "n_inputs_with_pairs", "n_inputs_without_pairs", "inputs_without_pairs")


def run_summary(run: Path) -> dict[str, Any]:
    """``stages``: seconds, gate Pearson, draw and model of each manifest stage (evaluation stages
    add ``<strategy>_pearson``); ``curation``: the counts of each ``iter<t>/curation.json``."""
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    stages: dict[str, dict[str, Any]] = {}
    for name, stage in manifest["stages"].items():
        row = {k: stage[k] for k in ("status", "seconds", "pearson", "draw", "model") if k in stage}
        for strategy, result in (stage.get("runs") or {}).items():
            row[f"{strategy}_pearson"] = result.get("pearson")
        stages[name] = row
    curation = {}
    for path in sorted(run.glob("iter*/curation.json")):
        counts = json.loads(path.read_text(encoding="utf-8"))
        curation[path.parent.name] = {k: counts.get(k) for k in CURATION_KEYS}
    return {"run": str(run), "stages": stages, "curation": curation}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a training run's output_dir")
    ap.add_argument("out", type=Path, help="the JSON file to write")
    args = ap.parse_args(argv)
    args.out.write_text(json.dumps(run_summary(args.run), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
