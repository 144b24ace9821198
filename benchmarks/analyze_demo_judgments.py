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

``--samples RUN/iter1`` reads an iteration's sampled judgments (``samples.jsonl`` and its
``resample*.jsonl``) and asks, per ``curation.consistency`` check, what a chosen judgment would be:
how many judgments on the gold score pass the check, how many inputs keep one, and how many of those
judgments get every verdict right.

    python benchmarks/analyze_demo_judgments.py --samples runs/sre-effect-p10seed/seed*/iter1

``--pairs`` also gives the "met" share per constraint kind of the chosen judgments, the rejected ones
and the truth; ``--rs-sft RUN`` gives it for the RS-SFT baseline's examples of a run with
``baselines: [rejection-sampling]`` (rebuilt from the run's samples and config as the pipeline
builds them): what a judge is trained on, to set beside the ``verdict_met`` it shows held-out.

    python benchmarks/analyze_demo_judgments.py --rs-sft runs/sre-rs-sft/seed0
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from scipy import stats

from selfrat_eval.demo.data import (
    N_CONSTRAINTS,
    VERDICT,
    SyntheticConfig,
    build_splits,
    clause_kind,
    evidence_and_stated_verdicts,
    stated_verdicts,
)
from selfrat_eval.parsing import parse_judgment
from selfrat_eval.training.baselines import rs_sft_examples
from selfrat_eval.training.config import TrainConfig
from selfrat_eval.training.consistency import CONSISTENCY_CHECKS, consistency_check
from selfrat_eval.training.data import read_jsonl
from selfrat_eval.training.resampling import merged_records

# evidence-first clauses "Label: evidence (met)." (or "(met, 2 so far).") and verdict-first
# clauses "Label: met (evidence)."
EVIDENCE_FIRST = re.compile(r"([^.]*?): (.*?) " + VERDICT.pattern)
VERDICT_FIRST = re.compile(r"([^.]*?): (met|violated) \((.*?)\)\.")


def clauses(text: str) -> list[tuple[str, str]]:
    """(evidence, verdict) per clause, in order."""
    ef = EVIDENCE_FIRST.findall(text)
    if ef:
        return [(ev.strip(), v) for _, ev, v, _ in ef]
    return [(ev.strip(), v) for _, v, ev in VERDICT_FIRST.findall(text)]


def _pearson(gold: list[float], pred: list[float]) -> float | None:
    if len(gold) < 3 or len(set(gold)) < 2 or len(set(pred)) < 2:
        return None
    return round(float(stats.pearsonr(gold, pred).statistic), 3)


def implied_scores(text: str) -> tuple[int | None, int | None]:
    """The score a judgment's own verdicts imply (1 + verdicts met) and the score its own cited
    evidence implies (1 + clauses whose evidence reads as met); None where they cannot be read."""
    verdicts = stated_verdicts(text)
    by_verdicts = 1 + sum(met for met, _ in verdicts) if len(verdicts) == N_CONSTRAINTS else None
    pairs = evidence_and_stated_verdicts(text)
    implied = None if pairs is None else [i for i, _ in pairs]
    by_evidence = 1 + sum(map(bool, implied)) if implied is not None and None not in implied else None
    return by_verdicts, by_evidence


def analyze(results: dict, heldout: dict) -> dict:
    verdict_ok: Counter[str] = Counter()
    evidence_ok: Counter[str] = Counter()
    total: Counter[str] = Counter()
    said_met: Counter[str] = Counter()
    against_own_evidence: Counter[str] = Counter()  # stated verdict != what its own evidence implies
    readable_evidence: Counter[str] = Counter()
    consistent = n = 0
    predicted: Counter[int] = Counter()
    readable: list[tuple[float, float, int, int]] = []  # gold, stated, by verdicts, by evidence
    for it in results["items"]:
        item = heldout[it["id"]]
        req = it["requests"]["score"]
        text = req["draws"][req["decision"].get("selected") or 0]["text"]
        got, want = clauses(text), clauses(item.metadata["target"])
        pred = it["result"]["pred"]
        predicted[round(pred) if pred is not None else 0] += 1
        n += 1
        by_verdicts, by_evidence = implied_scores(text)
        if pred is not None and by_verdicts is not None and by_evidence is not None:
            readable.append((float(it["result"]["gold"]), float(pred), by_verdicts, by_evidence))
        if len(got) != len(want):
            continue
        own = evidence_and_stated_verdicts(text)
        if own is None or len(own) != len(got):  # verdict-first rationales carry no readable evidence
            own = [(None, v == "met") for _, v in got]
        for (ev, v), (gev, gv), c, (implied, _) in zip(got, want, item.metadata["constraints"], own, strict=True):
            total[c["kind"]] += 1
            verdict_ok[c["kind"]] += v == gv
            evidence_ok[c["kind"]] += ev == gev
            said_met[c["kind"]] += v == "met"
            if implied is not None:
                readable_evidence[c["kind"]] += 1
                against_own_evidence[c["kind"]] += implied != (v == "met")
        if pred is not None and round(pred) == 1 + sum(v == "met" for _, v in got):
            consistent += 1
    gold = [r[0] for r in readable]
    return {
        "n": n,
        "verdict_accuracy": {k: round(verdict_ok[k] / total[k], 3) for k in sorted(total)},
        "evidence_exact": {k: round(evidence_ok[k] / total[k], 3) for k in sorted(total)},
        # how often the verdict is "met", and how often it contradicts the evidence the judgment
        # itself cites (a judge that says "met" whatever its evidence: high on both)
        "verdict_met": {k: round(said_met[k] / total[k], 3) for k in sorted(total)},
        "verdict_against_own_evidence": {
            k: round(against_own_evidence[k] / readable_evidence[k], 3) for k in sorted(readable_evidence)
        },
        "score_consistent_with_own_verdicts": round(consistent / n, 3) if n else None,
        "predicted_scores": dict(sorted(predicted.items())),
        "pearson": results["metrics"].get("pearson"),
        # on the judgments whose verdicts and evidence can both be read: what the judge's own
        # rationale implies, against what it stated (headroom for learning to follow it)
        "own_rationale": {
            "n": len(readable),
            "pearson_stated": _pearson(gold, [r[1] for r in readable]),
            "pearson_by_own_verdicts": _pearson(gold, [r[2] for r in readable]),
            "pearson_by_own_evidence": _pearson(gold, [r[3] for r in readable]),
        },
    }


def verdict_errors(text: str, truth: list[tuple[str, str]]) -> int | None:
    """Verdicts of ``text`` that differ from the true ones; None when the clauses do not line up."""
    return _errors(clauses(text), truth)


def _errors(got: list[tuple[str, str]], truth: list[tuple[str, str]]) -> int | None:
    if len(got) != len(truth):
        return None
    return sum(v != tv for (_, v), (_, tv) in zip(got, truth, strict=True))


def met_by_kind(texts: list[str]) -> dict[str, float]:
    """Per constraint kind, the share of (evidence-first) verdicts that say "met": a training set's
    verdict marginals, to set beside the held-out ``verdict_met`` of the judge trained on it."""
    met: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for text in texts:
        for label, _, verdict, _ in EVIDENCE_FIRST.findall(text):
            kind = clause_kind(label.strip())
            seen[kind] += 1
            met[kind] += verdict == "met"
    return {kind: round(met[kind] / seen[kind], 3) for kind in sorted(seen)}


def analyze_pairs(pairs: list[dict], targets: dict[str, str]) -> dict:
    """Verdict errors of the chosen and the rejected judgment of each pair (``targets``: item id ->
    the reference rationale)."""
    chosen_err: list[int] = []
    rejected_err: list[int] = []
    unmatched = inverted = 0
    # per clause label, the wrong verdicts of rejected judgments by direction: what DPO is told to
    # push down ("met" where the truth is violated, and the reverse)
    wrong_by_label: dict[str, Counter[str]] = {}
    for pair in pairs:
        target = targets[str(pair["key"])]
        truth = clauses(target)
        chosen, rejected = clauses(pair["chosen"][-1]["content"]), clauses(pair["rejected"][-1]["content"])
        c, r = _errors(chosen, truth), _errors(rejected, truth)
        if c is None or r is None:
            unmatched += 1
            continue
        chosen_err.append(c)
        rejected_err.append(r)
        inverted += c > r
        labels = [label.strip() for label, *_ in EVIDENCE_FIRST.findall(target)]  # verdict-first: none
        for label, (_, tv), (_, cv), (_, rv) in zip(labels, truth, chosen, rejected, strict=False):
            counts = wrong_by_label.setdefault(label, Counter())
            counts[f"chosen_{cv}_when_{tv}"] += cv != tv
            counts[f"rejected_{rv}_when_{tv}"] += rv != tv
    n = len(chosen_err)
    by_kind: dict[str, Counter[str]] = {}
    for label, counts in wrong_by_label.items():
        by_kind.setdefault(clause_kind(label), Counter()).update(counts)

    def share(xs: list[int], pred: Any) -> float | None:
        return round(sum(map(pred, xs)) / n, 3) if n else None

    def rejected_passing(name: str) -> float | None:
        check = consistency_check(name)
        passed = [_text_passes(check, pair["rejected"][-1]["content"]) for pair in pairs]
        return round(sum(passed) / len(passed), 3) if passed else None

    return {
        "n_pairs": len(pairs),
        "n_unmatched": unmatched,  # a judgment whose clauses do not line up with the constraints
        "chosen_all_verdicts_right": share(chosen_err, lambda e: e == 0),
        "chosen_wrong_verdicts_mean": round(sum(chosen_err) / n, 3) if n else None,
        "rejected_wrong_verdicts_mean": round(sum(rejected_err) / n, 3) if n else None,
        "chosen_has_more_wrong_verdicts": round(inverted / n, 3) if n else None,
        "chosen_wrong_verdicts": dict(sorted(Counter(chosen_err).items())),
        # share of rejected judgments that follow their own rationale (curation.rejected_preference)
        "rejected_passes_check": {name: rejected_passing(name) for name in CONSISTENCY_CHECKS},
        "wrong_verdicts_by_clause": {
            label: {k: v for k, v in sorted(counts.items()) if v}
            for label, counts in sorted(wrong_by_label.items())
            if any(counts.values())
        },
        # the "met" share per kind of what DPO raises, lowers, and of the truth on the same inputs
        "verdict_met": {
            "chosen": met_by_kind([pair["chosen"][-1]["content"] for pair in pairs]),
            "rejected": met_by_kind([pair["rejected"][-1]["content"] for pair in pairs]),
            "truth": met_by_kind([targets[str(pair["key"])] for pair in pairs]),
        },
        # the same summed per constraint kind (include/exclude over their words)
        "wrong_verdicts_by_kind": {
            kind: {k: v for k, v in sorted(counts.items()) if v}
            for kind, counts in sorted(by_kind.items())
            if any(counts.values())
        },
    }


def _text_passes(check: Any, text: str) -> bool:
    """Whether a pair's judgment text passes a consistency check (read by the core's parser)."""
    judgment = parse_judgment(text)
    return judgment.ok and check(judgment.rationale, int(judgment.score))


def analyze_samples(records: list[dict], targets: dict[str, str]) -> dict:
    """Per consistency check (``none`` = no check): the judgments on the gold score that pass it,
    the inputs that keep at least one, and the share of those judgments with every verdict right."""
    on_gold = []  # (input key, rationale, score, every verdict right), graded once for all checks
    for rec in records:
        truth = clauses(targets[str(rec["key"])])
        for s in rec["samples"]:
            if s.get("score") is not None and int(s["score"]) == int(rec["gold"]):
                rationale = str(s["rationale"])
                on_gold.append((str(rec["key"]), rationale, int(s["score"]), verdict_errors(rationale, truth) == 0))
    out = {}
    for name in ("none", *CONSISTENCY_CHECKS):
        check = consistency_check(None if name == "none" else name)
        kept = [(key, right) for key, rationale, score, right in on_gold if check is None or check(rationale, score)]
        out[name] = {
            "on_gold_passing": len(kept),
            "inputs_kept": len({key for key, _ in kept}),
            "all_verdicts_right": round(sum(right for _, right in kept) / len(kept), 3) if kept else None,
        }
    return {"n_inputs": len({str(r["key"]) for r in records}), "checks": out}


def analyze_rs_sft_examples(run_dir: Path) -> dict:
    """The RS-SFT baseline's training examples of a run (``baselines: [rejection-sampling]``),
    rebuilt from its iteration-1 samples and config as the pipeline builds them (they are not saved),
    with the "met" share per kind of their verdicts and of the truth on their inputs."""
    cfg = TrainConfig.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")))
    records = merged_records(run_dir / "iter1")
    rows, stats = rs_sft_examples(cfg, records, 1)
    targets = _run_targets(run_dir)
    key_of = {json.dumps(r["prompt"]): str(r["key"]) for r in records}
    return {
        "n_examples": stats["n_examples"],
        "verdict_met": {
            "examples": met_by_kind([row["completion"][-1]["content"] for row in rows]),
            "truth": met_by_kind([targets[key_of[json.dumps(row["prompt"])]] for row in rows]),
        },
    }


def _run_targets(run_dir: Path) -> dict[str, str]:
    """Item id -> reference rationale of a training run's data file (its ``config.yaml``)."""
    run = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    return {str(r["__index_level_0__"]): r["output"] for r in read_jsonl(Path(run["data"]["source"]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="*")
    ap.add_argument("--pairs", type=Path, nargs="+", default=[], help="a training run's iter<t>/pairs.jsonl")
    ap.add_argument("--samples", type=Path, nargs="+", default=[], help="a training run's iter<t> directory")
    ap.add_argument("--rs-sft", type=Path, nargs="+", default=[], help="a training run's directory: its RS-SFT examples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-heldout", type=int, default=100)
    args = ap.parse_args(argv)
    for path in args.pairs:
        print(json.dumps({"pairs": str(path), **analyze_pairs(list(read_jsonl(path)), _run_targets(path.parent.parent))}))
    for path in args.samples:
        print(json.dumps({"samples": str(path), **analyze_samples(merged_records(path), _run_targets(path.parent))}))
    for path in args.rs_sft:
        print(json.dumps({"rs_sft": str(path), **analyze_rs_sft_examples(path)}))
    if not args.results:
        return 0
    cfg = SyntheticConfig(n_train=args.n_train, n_heldout=args.n_heldout, seed=args.seed)
    heldout = {it.id: it for it in build_splits(cfg)["heldout"]}
    for path in args.results:
        print(json.dumps({"results": str(path), **analyze(json.loads(path.read_text()), heldout)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
