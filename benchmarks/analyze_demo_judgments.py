"""Where a judge on the demo's synthetic tasks goes wrong: per constraint kind, how often its
rationale copies the evidence exactly and gets the verdict right, and whether its score agrees with
its own verdicts. Reads a runner ``results.json`` of the ``feedback_bench`` protocol on the demo's
held-out file and the generator's ground truth (same ``SyntheticConfig``).

    python benchmarks/analyze_demo_judgments.py RUN/sft/eval/greedy/results.json --seed 100 --n-train 300 --n-heldout 100
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from selfrat_eval.demo.data import SyntheticConfig, build_splits

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-heldout", type=int, default=100)
    args = ap.parse_args(argv)
    cfg = SyntheticConfig(n_train=args.n_train, n_heldout=args.n_heldout, seed=args.seed)
    heldout = {it.id: it for it in build_splits(cfg)["heldout"]}
    for path in args.results:
        print(json.dumps({"results": str(path), **analyze(json.loads(path.read_text()), heldout)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
