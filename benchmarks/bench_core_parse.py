"""Time to parse and score 100,000 judgments (issue target: < 1 s on a 2-core machine).

    python benchmarks/bench_core_parse.py [--n 100000] [--seed 0] [--out bench_core_parse.json]

Judgment texts are ~600-character rationales in the shapes judges really produce (plain marker,
parenthesised, `/5`, EOS tokens, rubric quotes, several markers, failures). The timed part is
`parse_judgment` on every text plus `score_metrics` (Pearson/Spearman/Kendall/accuracy/MAE) on the
parsed scores; building the texts is not timed. Best of --repeats runs is reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

from selfrat_eval import parse_judgment
from selfrat_eval.metrics import score_metrics

SHAPES = [
    "{r} [RESULT] {s}",
    "{r} [RESULT] ({s})",
    "{r} [RESULT]: {s}/5",
    "{r}\n[RESULT] {s}</s>",
    "Score 1: poor. Score 5: excellent. {r} [RESULT] {s}<|eot_id|>",
    "{r} [RESULT] 2 ... on reflection {r} [RESULT] {s}",
    "{r}\nScore: {s}",
    "{r} [RESULT] {bad}",
    "{r}",
]
WORDS = "the response covers points accurately but misses 3 key details and the reasoning in step 2 is unclear".split()


def make_texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts, gold = [], []
    for _ in range(n):
        g = rng.randint(1, 5)
        s = min(5, max(1, g + rng.choice([-1, 0, 0, 0, 1])))
        rationale = " ".join(rng.choice(WORDS) for _ in range(100))
        shape = rng.choice(SHAPES)
        texts.append(shape.format(r=rationale, s=s, bad=rng.choice(["7", "4 or 5", "great", "3.5"])))
        gold.append(g)
    return texts, gold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="write the result JSON here")
    args = ap.parse_args()
    texts, gold = make_texts(args.n, args.seed)
    score_metrics([1, 2, 3], [1, 2, 3])  # import scipy outside the timed region
    timings = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        judgments = [parse_judgment(t) for t in texts]
        t1 = time.perf_counter()
        metrics = score_metrics([j.score for j in judgments], gold)
        t2 = time.perf_counter()
        timings.append({"parse_s": t1 - t0, "score_s": t2 - t1, "total_s": t2 - t0})
    best = min(timings, key=lambda t: t["total_s"])
    result = {
        "n": args.n,
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
        **{k: round(v, 4) for k, v in best.items()},
        "parse_rate": metrics["parse_rate"],
        "pearson": metrics["pearson"],
        "target_s": 1.0,
        "meets_target": best["total_s"] < 1.0,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
