"""Where a judge on the demo's synthetic tasks goes wrong: per constraint kind, how often its
rationale copies the evidence exactly and gets the verdict right, and whether its score agrees with
its own verdicts. Reads a runner ``results.json`` of the ``feedback_bench`` protocol on the demo's
held-out file and the generator's ground truth (same ``SyntheticConfig``).

    python benchmarks/analyze_demo_judgments.py RUN/sft/eval/greedy/results.json --seed 100 --n-train 300 --n-heldout 100

``--pairs RUN/iter1/pairs.jsonl`` reads a training run's preference pairs instead (the run's
``config.yaml`` names the training file, whose ``output`` holds the true verdicts): how often the
chosen judgment, which lands on the gold score, gets every verdict right, and how many verdicts the
chosen and the rejected judgment get wrong. A chosen judgment can reach the gold score with two
wrong verdicts that cancel; DPO then teaches those verdicts as preferred.

    python benchmarks/analyze_demo_judgments.py --pairs runs/sre-effect-p8seed/seed*/iter1/pairs.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from selfrat_eval.demo.data import SyntheticConfig, build_splits
from selfrat_eval.training.data import read_jsonl

# evidence-first clauses "Label: evidence (met)." and verdict-first clauses "Label: met (evidence)."
EVIDENCE_FIRST = re.compile(r"([^.]*?): (.*?) \((met|violated)\)\.")
VERDICT_FIRST = re.compile(r"([^.]*?): (met|violated) \((.*?)\)\.")


def clauses(text: str) -> list[tuple[str, str]]:
    """(evidence, verdict) per clause, in order."""
    ef = EVIDENCE_FIRST.findall(text)
    if ef:
        return [(ev.strip(), v) for _, ev, v in ef]
    return [(ev.strip(), v) for _, v, ev in VERDICT_FIRST.findall(text)]


def analyze(results: dict, heldout: dict) -> dict:
    verdict_ok: Counter[str] = Counter()
    evidence_ok: Counter[str] = Counter()
    total: Counter[str] = Counter()
    consistent = n = 0
    predicted: Counter[int] = Counter()
    for it in results["items"]:
        item = heldout[it["id"]]
        req = it["requests"]["score"]
        text = req["draws"][req["decision"].get("selected") or 0]["text"]
        got, want = clauses(text), clauses(item.metadata["target"])
        pred = it["result"]["pred"]
        predicted[round(pred) if pred is not None else 0] += 1
        n += 1
        if len(got) != len(want):
            continue
        for (ev, v), (gev, gv), c in zip(got, want, item.metadata["constraints"], strict=True):
            total[c["kind"]] += 1
            verdict_ok[c["kind"]] += v == gv
            evidence_ok[c["kind"]] += ev == gev
        if pred is not None and round(pred) == 1 + sum(v == "met" for _, v in got):
            consistent += 1
    return {
        "n": n,
        "verdict_accuracy": {k: round(verdict_ok[k] / total[k], 3) for k in sorted(total)},
        "evidence_exact": {k: round(evidence_ok[k] / total[k], 3) for k in sorted(total)},
        "score_consistent_with_own_verdicts": round(consistent / n, 3) if n else None,
        "predicted_scores": dict(sorted(predicted.items())),
        "pearson": results["metrics"].get("pearson"),
    }


def verdict_errors(text: str, truth: list[tuple[str, str]]) -> int | None:
    """Verdicts of ``text`` that differ from the true ones; None when the clauses do not line up."""
    got = clauses(text)
    if len(got) != len(truth):
        return None
    return sum(v != tv for (_, v), (_, tv) in zip(got, truth, strict=True))


def analyze_pairs(pairs: list[dict], targets: dict[str, str]) -> dict:
    """Verdict errors of the chosen and the rejected judgment of each pair (``targets``: item id ->
    the reference rationale)."""
    chosen_err: list[int] = []
    rejected_err: list[int] = []
    unmatched = inverted = 0
    for pair in pairs:
        truth = clauses(targets[str(pair["key"])])
        c = verdict_errors(pair["chosen"][-1]["content"], truth)
        r = verdict_errors(pair["rejected"][-1]["content"], truth)
        if c is None or r is None:
            unmatched += 1
            continue
        chosen_err.append(c)
        rejected_err.append(r)
        inverted += c > r
    n = len(chosen_err)

    def share(xs: list[int], pred: Any) -> float | None:
        return round(sum(map(pred, xs)) / n, 3) if n else None

    return {
        "n_pairs": len(pairs),
        "n_unmatched": unmatched,  # a judgment whose clauses do not line up with the constraints
        "chosen_all_verdicts_right": share(chosen_err, lambda e: e == 0),
        "chosen_wrong_verdicts_mean": round(sum(chosen_err) / n, 3) if n else None,
        "rejected_wrong_verdicts_mean": round(sum(rejected_err) / n, 3) if n else None,
        "chosen_has_more_wrong_verdicts": round(inverted / n, 3) if n else None,
        "chosen_wrong_verdicts": dict(sorted(Counter(chosen_err).items())),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="*")
    ap.add_argument("--pairs", type=Path, nargs="+", default=[], help="a training run's iter<t>/pairs.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-heldout", type=int, default=100)
    args = ap.parse_args(argv)
    for path in args.pairs:
        run = yaml.safe_load((path.parent.parent / "config.yaml").read_text(encoding="utf-8"))
        targets = {str(r["__index_level_0__"]): r["output"] for r in read_jsonl(Path(run["data"]["source"]))}
        pairs = list(read_jsonl(path))
        print(json.dumps({"pairs": str(path), **analyze_pairs(pairs, targets)}))
    if not args.results:
        return 0
    cfg = SyntheticConfig(n_train=args.n_train, n_heldout=args.n_heldout, seed=args.seed)
    heldout = {it.id: it for it in build_splits(cfg)["heldout"]}
    for path in args.results:
        print(json.dumps({"results": str(path), **analyze(json.loads(path.read_text()), heldout)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
