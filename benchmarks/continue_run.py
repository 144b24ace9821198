"""Continue a finished training run by more self-rationalization iterations, as a new run that starts
from the source run's final (gate-kept) judge.

A run's config cannot grow by an iteration in place: its manifest refuses a changed config, and its
validation split is drawn among the items no iteration uses, so adding iteration inputs would move
it. The continuation is therefore a run of its own:

- its model is the source's ``final_model`` (``curve.json``), with no SFT; that judge is the
  reference of the first DPO step, as it would be in the source run's next iteration;
- its training file holds the source's training items that neither its SFT nor any of its
  iterations used (written to ``<output_dir>/source-unused.jsonl``), so no input repeats and a new
  validation split is drawn among them;
- everything else (seed, LoRA, sampling, curation, DPO, validation gate, evaluation and its cache,
  the held-out file) is the source's, unless ``--set`` changes it.

    python benchmarks/continue_run.py runs/sre-fullbatch/seed0 --output-dir runs/sre-fullbatch-it2/seed0 \
        --iterations 40 --config-out runs/sre-fullbatch-it2/seed0.yaml
    selfrat train --config runs/sre-fullbatch-it2/seed0.yaml

The continuation's ``iter1`` is the source's iteration ``len(source iterations) + 1``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from selfrat_eval.loaders import feedback_row_id
from selfrat_eval.training.config import TrainConfig, apply_overrides


def used_ids(splits: dict[str, Any], cfg: TrainConfig) -> set[str]:
    """Ids of the items of the run's training file that it must not hand on (``splits``: its
    ``data/splits.json``): those its SFT (when it trained one) and its iterations used, and its
    held-out items when it split them from that file."""
    used = {i for ids in splits["iteration_ids"] for i in ids}
    if cfg.sft.enabled:
        used |= set(splits["sft_ids"])
    if not cfg.data.heldout_source:
        used |= set(splits["heldout_ids"])
    return used


def split_rows(run: Path, cfg: TrainConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(unused rows, held-out rows) of the run's training file: the rows its SFT, iterations and
    held-out split did not use, and those of its held-out split when it took that from the same
    file (else none: its ``data.heldout_source`` is kept)."""
    source = Path(cfg.data.source)
    if not source.is_file():
        raise SystemExit(f"{run}: its training file {source} is not a local file; continue_run needs it")
    splits = json.loads((run / "data" / "splits.json").read_text(encoding="utf-8"))
    used = used_ids(splits, cfg)
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [feedback_row_id(r, i) for i, r in enumerate(rows)]
    unmatched = used - set(ids)
    if unmatched:
        raise SystemExit(f"{source}: {len(unmatched)} ids of {run}/data/splits.json are not in it (e.g. {sorted(unmatched)[:3]})")
    # a row keeps its id in the new file (the loader would otherwise number rows by position)
    keyed = {i: {**r, "__index_level_0__": r.get("__index_level_0__", n)} for n, (r, i) in enumerate(zip(rows, ids, strict=True))}
    held = [] if cfg.data.heldout_source else splits["heldout_ids"]
    return [r for i, r in keyed.items() if i not in used], [keyed[i] for i in held]  # held-out in the run's order


def continuation(
    run: Path, output_dir: Path, iterations: list[int], overrides: list[str]
) -> tuple[TrainConfig, list[dict[str, Any]], list[dict[str, Any]]]:
    """The continuation's config, training rows and held-out rows (none where the source's
    held-out file is kept); nothing is written."""
    cfg = TrainConfig.load(run / "config.yaml")
    curve = run / "curve.json"
    if not curve.is_file():
        raise SystemExit(f"{run}: no curve.json; the run has not finished")
    final = json.loads(curve.read_text(encoding="utf-8"))["final_model"]
    rows, heldout = split_rows(run, cfg)
    if not rows:
        raise SystemExit(f"{run}: its SFT, iterations and held-out split used every training item; nothing is left to continue on")
    data = cfg.to_dict()
    data.update(output_dir=str(output_dir), iterations=list(iterations), baselines=[])
    data["model"] = {**data["model"], "name_or_path": final, "gguf_file": None}
    data["sft"] = {**data["sft"], "enabled": False}
    data["data"] = {**data["data"], "source": str(output_dir / "source-unused.jsonl"), "split": "train",
                    "sft_size": None, "limit": None}
    if heldout:  # the same held-out items, now from a file of their own
        data["data"]["heldout_source"] = str(output_dir / "source-heldout.jsonl")
        data["data"]["heldout_split"] = "train"
    new = TrainConfig.from_dict(apply_overrides(data, overrides), where="continuation")
    return new, rows, heldout


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="a finished training run directory")
    ap.add_argument("--output-dir", type=Path, required=True, help="the continuation's run directory (created)")
    ap.add_argument("--iterations", type=int, nargs="+", required=True, help="inputs per further iteration")
    ap.add_argument("--config-out", type=Path, required=True, help="where the continuation's config is written")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="change a config field of the continuation (dotted key)")
    args = ap.parse_args(argv)
    if args.output_dir.exists():
        raise SystemExit(f"{args.output_dir} exists; remove it or choose another --output-dir")
    cfg, rows, heldout = continuation(args.source, args.output_dir, args.iterations, args.overrides)
    args.output_dir.mkdir(parents=True)
    write_rows(args.output_dir / "source-unused.jsonl", rows)
    if heldout:
        write_rows(args.output_dir / "source-heldout.jsonl", heldout)
    args.config_out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# continuation of {args.source} (benchmarks/continue_run.py): starts from its final judge, "
              f"trains on its {len(rows)} unused training items\n")
    args.config_out.write_text(header + yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    print(f"{args.config_out}: {len(rows)} unused training items, model {cfg.model.name_or_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
