"""The self-rationalization effect on the demo's held-out split, over several seeds (issue 11).

For each seed s the whole demo runs (``selfrat demo --preset P --seed s``: data, SFT seed, RS-SFT,
SRE iterations 1 and 2, every judge greedy and expected-score, SC@N / BoN@N of the seed), into
``OUT/seed<s>``; a finished seed is only read (training's manifest and the runner's cache). Then,
per judge and judging mode (greedy, expected-score), Pearson with its 95% bootstrap CI, and the
paired differences "SRE iteration 2 minus each baseline" with paired bootstrap CIs.

Pooling over seeds: the seeds' held-out items are concatenated into one paired sample (3 x 100
items for the smollm2-effect preset). A judge's prediction on an item comes from that seed's judge (each
seed trains its own judges on its own data); every bootstrap resample draws items with replacement
from the concatenation and scores both judges on the same items
(:func:`selfrat_eval.metrics.paired_bootstrap_diff`). That interval sees item noise only, while
each seed also trains its own judges from its own samples; so each seed's own difference and CI
are reported too, and the seeds taken as replicates: the mean of the per-seed differences with a
Student-t CI (:func:`selfrat_eval.metrics.across_seeds`), wide with 3 seeds by design.

A judge without an expected-score run (best-of-N) is compared with its only run in the
expected-score table; self-consistency's expected-score counterpart is the mean of its samples.

    python benchmarks/bench_sre_effect.py --seeds 3                      # smollm2-effect; runs what is missing
    python benchmarks/bench_sre_effect.py --seeds 3 --preset smollm2 --out runs/sre-effect-smollm2   # make demo's size
    python benchmarks/bench_sre_effect.py --seeds 3 --no-run             # only measures
    python benchmarks/bench_sre_effect.py --seeds 3 --no-run --partial   # also seeds still training (judges so far)
    python benchmarks/bench_sre_effect.py --seeds 1 --preset tiny --out /tmp/effect-tiny

Prints the tables and writes ``OUT/effect.json`` (+ ``OUT/effect.md``) and every judge's per-item
predictions, ``OUT/predictions.jsonl`` (a row per seed, judge, judging and item: ``seed``, ``judge``,
``iteration``, ``variant``, ``strategy``, ``id``, ``gold``, ``pred``, ``top_prob``). A record that
keeps that file can be pooled again without its runs, which live in ``runs/`` and are gone on a new
machine: ``--from-predictions FILE`` takes the seeds the file holds from it and the others from
``OUT/seed<s>``, so a new seed joins the recorded ones:

    python benchmarks/bench_sre_effect.py --seed-list 0 1 2 --no-run --out runs/cmp \
        --from-predictions benchmarks/records/R/predictions-seeds01.jsonl     # seeds 0-1 recorded, 2 in runs/cmp/seed2

Nothing here is a test: the figures are reported as they come out, including when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from selfrat_eval.demo.report import VARIANTS, comparable, load_rows
from selfrat_eval.metrics import across_seeds, paired_bootstrap_diff, score_metrics

MIN_EFFECT = 0.05
TITLES = {"greedy": "greedy", "expected": "expected-score"}


def run_seeds(
    preset: str, seeds: list[int], out: Path, overrides: list[str], seed_judge: Path | None = None
) -> dict[int, float]:
    """Run (or resume) the demo for every seed; wall time of each call."""
    from selfrat_eval.demo.pipeline import load_preset, run_demo

    times = {}
    for s in seeds:
        t0 = time.time()
        run_demo(load_preset(preset, [*overrides, "rewardbench.pairs=0"], seed=s), out / f"seed{s}", shared_data=None,
                 seed_judge=seed_judge)
        times[s] = round(time.time() - t0, 1)
    return times


def instruction_overlap(heldout: Path, train_file: Path) -> dict[str, int]:
    """Held-out items whose instruction occurs in ``train_file``, and those the loaders'
    decontamination would drop (same instruction + response): the check that a seed judge trained
    elsewhere never saw a seed's held-out tasks."""
    from selfrat_eval.loaders import decontaminate, load_feedback_bench, load_feedback_collection

    seen = load_feedback_collection(train_file, decontaminate_against=None)
    instructions = {it.instruction.strip() for it in seen}
    held = load_feedback_bench(heldout)
    return {
        "n_heldout": len(held),
        "same_instruction": sum(it.instruction.strip() in instructions for it in held),
        "same_instruction_and_response": decontaminate(held, seen)[1],
    }


def sre_rows_from(rows: list[dict[str, Any]], run: Path) -> list[dict[str, Any]]:
    """The demo's rows with its SRE judges replaced by those of another training run on the same
    seed (a sweep variant, ``--sre-runs``); an iteration that run does not have is dropped."""
    out = []
    for row in rows:
        if row.get("iteration") is None or row["iteration"] < 1:
            out.append(row)
            continue
        stage = run / f"iter{row['iteration']}" / "eval"
        if not (stage / "greedy" / "results.json").is_file():
            continue
        expected = stage / "expected-score" / "results.json"
        out.append({**row, "greedy": str(stage / "greedy" / "results.json"),
                    "expected": str(expected) if expected.is_file() else None})
    return out


def seed_rows(folder: Path, sre_run: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    manifest = json.loads((folder / "demo_manifest.json").read_text(encoding="utf-8"))
    preset = json.loads((folder / "demo_preset.json").read_text(encoding="utf-8"))
    rows = manifest["rows"] if sre_run is None else sre_rows_from(manifest["rows"], sre_run)
    return load_rows(rows), {"manifest": manifest, "preset": preset}


def partial_seed_rows(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """An unfinished seed (``--partial``): the comparison rows whose judges training already judged
    held-out (``<judge>/eval/<strategy>/`` in training's manifest), read as the finished demo would
    read them. Rows of sampling strategies (SC@N, BoN@N) run only in the demo's last stage and are
    dropped, as are judges not trained yet."""
    preset = json.loads((folder / "demo_preset.json").read_text(encoding="utf-8"))
    manifest_path = folder / "manifest.json"
    stages = json.loads(manifest_path.read_text(encoding="utf-8"))["stages"] if manifest_path.is_file() else {}
    rows = []
    for row in preset.get("compare", {}).get("rows", []):
        judge = row["judge"]
        if judge == "sft" and "sft/eval" not in stages:
            judge = "base"  # a given seed judge (--seed-judge) is judged as training's "base" stage
        evaluation = stages.get(f"{judge}/eval", {})
        runs = evaluation.get("runs", {}) if evaluation.get("status") == "done" else {}
        entry: dict[str, Any] = {"name": row["name"], "judge": row["judge"], "iteration": row.get("iteration")}
        for variant in VARIANTS:
            spec = row.get(variant)
            strategy = spec.get("name") if isinstance(spec, dict) else spec
            if strategy is None:
                continue
            if strategy not in runs:
                entry = {}
                break
            # the folder the manifest names, under this seed's folder (a moved or linked run still reads)
            entry[variant] = str(folder / judge / "eval" / Path(runs[strategy]["results"]).parent.name / "results.json")
        if entry:
            rows.append(entry)
    if not rows:
        raise SystemExit(f"{folder}: no judge has a finished held-out evaluation yet")
    meta = {"seed_judge": None, "wall_time_s": None, "peak_rss_mb": None, "partial": True}
    return load_rows(rows), {"manifest": meta, "preset": preset}


def prediction_records(per_seed: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every judge's per-item predictions, a flat row per seed, judge, judging and item (the layout
    of ``predictions.jsonl``); a judge without an expected-score run has greedy rows only."""
    records = []
    for seed, rows in per_seed.items():
        for row in rows:
            for variant in VARIANTS:
                run = row.get(variant)
                if run is None:
                    continue
                top = run.get("top_prob") or [None] * len(run["pred"])
                for item_id, gold, pred, top_prob in zip(run["ids"], run["gold"], run["pred"], top, strict=True):
                    records.append({"seed": seed, "judge": row["name"], "iteration": row.get("iteration"),
                                    "variant": variant, "strategy": run["strategy"], "id": item_id, "gold": gold,
                                    "pred": pred, "top_prob": top_prob})
    return records


def write_predictions(path: Path, per_seed: dict[int, list[dict[str, Any]]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for record in prediction_records(per_seed):
            f.write(json.dumps(record) + "\n")


def read_predictions(path: Path) -> dict[int, list[dict[str, Any]]]:
    """The seeds' rows of a ``predictions.jsonl``, as :func:`seed_rows` gives them for run folders:
    judges in the order the file lists them, each with its greedy run and its expected-score run or
    None. Every run of a seed must cover the same items in the same order with the same gold scores."""
    runs: dict[int, dict[str, dict[str, Any]]] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            seed, name, variant = int(rec["seed"]), str(rec["judge"]), rec["variant"]
            item_id, gold, pred = str(rec["id"]), float(rec["gold"]), rec["pred"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{line_no}: not a prediction row ({type(exc).__name__}: {exc})") from None
        if variant not in VARIANTS:
            raise SystemExit(f"{path}:{line_no}: variant {variant!r} is none of {list(VARIANTS)}")
        row = runs.setdefault(seed, {}).setdefault(name, {"name": name, "iteration": rec.get("iteration")})
        run = row.setdefault(variant, {"strategy": rec.get("strategy"), "ids": [], "gold": [], "pred": [], "top_prob": []})
        run["ids"].append(item_id)
        run["gold"].append(gold)
        run["pred"].append(None if pred is None else float(pred))  # an unparsed judgment stays unparsed
        run["top_prob"].append(rec.get("top_prob"))
    if not runs:
        raise SystemExit(f"{path}: no prediction rows")
    per_seed = {}
    for seed, judges in runs.items():
        first = None
        for name, row in judges.items():
            if "greedy" not in row:
                raise SystemExit(f"{path}: seed {seed}, judge {name!r} has no greedy predictions")
            row.setdefault("expected", None)
            for variant in VARIANTS:
                run = row[variant]
                if run is None:
                    continue
                first = first or run
                if run["ids"] != first["ids"] or run["gold"] != first["gold"]:
                    raise SystemExit(f"{path}: seed {seed}, judge {name!r} ({variant}) covers other items or gold "
                                     "scores than the seed's first judge")
        per_seed[seed] = list(judges.values())
    return per_seed


def _row(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The judge ``name``'s row among one seed's rows."""
    return next(r for r in rows if r["name"] == name)


def _concat(per_seed: list[list[dict[str, Any]]], name: str, variant: str) -> tuple[list[float | None], list[float]]:
    pred: list[float | None] = []
    gold: list[float] = []
    for rows in per_seed:
        row = _row(rows, name)
        run = comparable(row, variant)
        pred += run["pred"]
        gold += [float(g) for g in run["gold"]]
    return pred, gold


def score_confidence(per_seed: list[list[dict[str, Any]]], name: str) -> dict[str, Any] | None:
    """How sure a judge's expected-score run is of its score token, pooled over seeds: the median
    probability of the most likely score and the share of items above 0.99. Near 1 the expected
    score is the argmax (greedy) score, so expected-score judging cannot move the Pearson; None
    where the run has no score distributions (SC@N's mean over samples)."""
    tops = [p for rows in per_seed for p in _row(rows, name)["expected"].get("top_prob") or [] if p is not None]
    if not tops:
        return None
    return {"median_top_prob": statistics.median(tops), "share_top_above_0.99": sum(p > 0.99 for p in tops) / len(tops),
            "n": len(tops)}


def _has_expected(per_seed: list[list[dict[str, Any]]], name: str) -> bool:
    return all(_row(rows, name).get("expected") is not None for rows in per_seed)


def _met(d: dict[str, Any]) -> bool:
    lo = d["ci"][0]
    return bool(d["diff"] >= MIN_EFFECT and lo is not None and not math.isnan(lo) and lo > 0)


def measure(per_seed: list[list[dict[str, Any]]], *, target: str, baselines: list[str], bootstrap: int) -> dict[str, Any]:
    names = [r["name"] for r in per_seed[0]]
    judges: dict[str, Any] = {}
    for name in names:
        judges[name] = {}
        for variant in VARIANTS:
            if variant == "expected" and not _has_expected(per_seed, name):
                continue
            pred, gold = _concat(per_seed, name, variant)
            m = score_metrics(pred, gold, bootstrap=bootstrap, seed=0)
            per = []
            for rows in per_seed:
                run = comparable(_row(rows, name), variant)
                per.append(score_metrics(run["pred"], run["gold"])["pearson"])
            judges[name][variant] = {"strategy": comparable(_row(per_seed[0], name), variant)["strategy"],
                                     "pearson": m["pearson"], "ci": m["ci"]["pearson"], "spearman": m["spearman"],
                                     "accuracy": m["accuracy"], "mae": m["mae"], "parse_rate": m["parse_rate"],
                                     "n": m["n"], "pearson_per_seed": per}
        if "expected" in judges[name]:
            e, gold = _concat(per_seed, name, "expected")
            g, _ = _concat(per_seed, name, "greedy")
            judges[name]["expected_minus_greedy"] = paired_bootstrap_diff(e, g, gold, n_resamples=bootstrap, seed=0)
            judges[name]["expected"]["score_confidence"] = score_confidence(per_seed, name)
    differences = []
    # without an expected-score run of the target (e.g. compare_runs.py --greedy-only) there is no
    # expected-score comparison: its table would only repeat the greedy one
    compared = [v for v in VARIANTS if v == "greedy" or _has_expected(per_seed, target)]
    for variant in compared:
        for base in baselines:
            a, gold = _concat(per_seed, target, variant)
            b, _ = _concat(per_seed, base, variant)
            d = paired_bootstrap_diff(a, b, gold, n_resamples=bootstrap, seed=0)
            per = []
            for rows in per_seed:
                ra = comparable(_row(rows, target), variant)
                rb = comparable(_row(rows, base), variant)
                ds = paired_bootstrap_diff(ra["pred"], rb["pred"], ra["gold"], n_resamples=bootstrap, seed=0)
                per.append({"diff": ds["diff"], "ci": ds["ci"]})
            differences.append({
                "variant": variant, "target": target, "baseline": base, **d,
                "across_seeds": across_seeds([p["diff"] for p in per]),
                "per_seed": per, "goal_met": _met(d),
            })
    # a raise counts when it holds up (paired CI above 0): a 1e-4 float wobble of an identical
    # prediction is not one
    es_raises = {n: j["expected_minus_greedy"]["ci"][0] > 0 for n, j in judges.items() if "expected_minus_greedy" in j}
    return {
        "n_seeds": len(per_seed),
        "n_items": len(_concat(per_seed, target, "greedy")[1]),
        "pooling": "held-out items of all seeds concatenated into one paired sample; bootstrap over items",
        "bootstrap": bootstrap,
        "judges": judges,
        "differences": differences,
        "goal": f"diff >= {MIN_EFFECT} and paired 95% CI low > 0, for every baseline",
        "goals_met": {v: all(d["goal_met"] for d in differences if d["variant"] == v) if v in compared else None
                      for v in VARIANTS},
        "expected_raises_every_judge": all(es_raises.values()) if es_raises else None,  # None: no expected-score runs
        "expected_raises": es_raises,
    }


def _f(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3f}" if isinstance(x, float) else str(x)


def _p(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def markdown(effect: dict[str, Any]) -> str:
    partial = effect.get("partial")
    lines = [f"**Partial** (`--partial`): seeds {partial['unfinished_seeds']} are unfinished; judges left out: "
             f"{', '.join(partial['judges_left_out']) or 'none'}.", ""] if partial else []
    lines += [f"{effect['n_seeds']} seeds, {effect['n_items']} held-out items pooled ({effect['pooling']}), "
             f"{effect['bootstrap']} bootstrap resamples.", "",
             "| judge | greedy Pearson [95% CI] | expected-score Pearson [95% CI] | expected - greedy [95% CI] | "
             "score-token confidence: median top p (share > 0.99) | per seed (greedy / expected) |",
             "|---|---|---|---|---|---|"]
    for name, j in effect["judges"].items():
        g, e, d = j["greedy"], j.get("expected"), j.get("expected_minus_greedy")
        cell_e = f"{_p(e['pearson'])} [{_p(e['ci'][0])}, {_p(e['ci'][1])}]" if e else "-"
        cell_d = f"{_f(d['diff'])} [{_f(d['ci'][0])}, {_f(d['ci'][1])}]" if d else "-"
        conf = (e or {}).get("score_confidence")
        cell_c = f"{conf['median_top_prob']:.4f} ({conf['share_top_above_0.99']:.0%})" if conf else "-"
        per = " ".join(_p(x) for x in g["pearson_per_seed"]) + (" / " + " ".join(_p(x) for x in e["pearson_per_seed"]) if e else "")
        lines.append(f"| {name} ({g['strategy']}{', ' + e['strategy'] if e else ''}) | {_p(g['pearson'])} [{_p(g['ci'][0])}, "
                     f"{_p(g['ci'][1])}] | {cell_e} | {cell_d} | {cell_c} | {per} |")
    lines += ["", "| judging | difference | pooled diff [95% CI] | seeds as replicates: mean [t 95% CI] | per seed | target met |",
              "|---|---|---|---|---|---|"]
    for d in effect["differences"]:
        per = "; ".join(f"{_f(p['diff'])} [{_f(p['ci'][0])}, {_f(p['ci'][1])}]" for p in d["per_seed"])
        seeds = d["across_seeds"]
        lines.append(f"| {TITLES[d['variant']]} | {d['target']} - {d['baseline']} | {_f(d['diff'])} [{_f(d['ci'][0])}, "
                     f"{_f(d['ci'][1])}] | {_f(seeds['mean'])} [{_f(seeds['ci'][0])}, {_f(seeds['ci'][1])}] | {per} | "
                     f"{'yes' if d['goal_met'] else 'NO'} |")
    lines += ["", f"targets met: greedy {effect['goals_met']['greedy']}, expected-score "
              f"{'not measured (no expected-score run of the target)' if effect['goals_met']['expected'] is None else effect['goals_met']['expected']}; "
              f"expected-score raises every judge: {effect['expected_raises_every_judge']}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smollm2-effect")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (or --seed-list)")
    ap.add_argument("--seed-list", type=int, nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/sre-effect"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="preset override")
    ap.add_argument("--no-run", action="store_true", help="measure finished seeds only")
    ap.add_argument("--seed-judge", type=Path, default=None,
                    help="one trained SFT judge every seed starts from (skips the seed SFT; the seeds then vary the "
                         "data, sampling, DPO and held-out items, not the seed judge)")
    ap.add_argument(
        "--seed-judge-data",
        type=Path,
        default=None,
        help="the seed judge's training file (Feedback-Collection layout): counts held-out items it contains",
    )
    ap.add_argument(
        "--sre-runs",
        default=None,
        metavar="TEMPLATE",
        help="take the SRE judges from other runs on the same seeds, e.g. runs/sweep-seeds/lr5e-4/seed{seed} "
        "(sweep_sre.py --base-run); the target becomes their last iteration",
    )
    ap.add_argument("--partial", action="store_true",
                    help="with --no-run: also measure unfinished seeds, on the judges training has judged in every seed "
                         "(the target becomes the last SRE iteration they all have)")
    ap.add_argument("--from-predictions", type=Path, nargs="+", default=[], metavar="FILE",
                    help="predictions.jsonl of earlier records: the seeds they hold are read from them, not run or "
                         "read from OUT/seed<s> (a seed in two files is refused)")
    ap.add_argument("--target", default=None,
                    help="the judge the baselines are compared with (default: the preset's, else the last SRE iteration)")
    ap.add_argument("--bootstrap", type=int, default=5000)
    args = ap.parse_args(argv)

    seeds = args.seed_list if args.seed_list else list(range(args.seeds))
    recorded: dict[int, list[dict[str, Any]]] = {}
    recorded_from: dict[int, str] = {}
    for path in args.from_predictions:
        for s, rows in read_predictions(path).items():
            if s in recorded:
                print(f"seed {s} is in {recorded_from[s]} and in {path}", file=sys.stderr)
                return 2
            if s in seeds:
                recorded[s], recorded_from[s] = rows, str(path)
    if recorded and args.sre_runs:
        print("--from-predictions and --sre-runs do not combine", file=sys.stderr)
        return 2
    to_run = [s for s in seeds if s not in recorded]
    times = {} if args.no_run else run_seeds(args.preset, to_run, args.out, args.overrides, args.seed_judge)
    missing = [s for s in to_run if not (args.out / f"seed{s}" / "demo_manifest.json").is_file()]
    if missing and not args.partial:
        print(f"seeds {missing} have no finished demo in {args.out}; run without --no-run (or measure what "
              "training finished with --partial)", file=sys.stderr)
        return 2
    if missing and args.sre_runs:
        print("--partial and --sre-runs do not combine", file=sys.stderr)
        return 2
    sre_runs = {s: Path(args.sre_runs.format(seed=s)) for s in seeds} if args.sre_runs else {}
    meta = {"manifest": {}, "preset": {}}  # a recorded seed brings its predictions only
    loaded = [(recorded[s], meta) if s in recorded
              else partial_seed_rows(args.out / f"seed{s}") if s in missing
              else seed_rows(args.out / f"seed{s}", sre_runs.get(s))
              for s in seeds]
    per_seed = [rows for rows, _ in loaded]
    info = next((m["preset"].get("compare", {}) for s, (_, m) in zip(seeds, loaded, strict=True) if s not in recorded), {})
    dropped: list[str] = []
    if missing:  # compare only the judges every seed has so far
        common = set.intersection(*({r["name"] for r in rows} for rows in per_seed))
        dropped = [r["name"] for r in info.get("rows", []) if r["name"] not in common]
        per_seed = [[r for r in rows if r["name"] in common] for rows in per_seed]
    names = [r["name"] for r in per_seed[0]]
    if any([r["name"] for r in rows] != names for rows in per_seed):
        print("the seeds' runs do not have the same judges (an --sre-runs iteration missing on some seed)", file=sys.stderr)
        return 2
    iterations = [r["name"] for r in per_seed[0] if (r.get("iteration") or 0) >= 1]
    target = args.target or info.get("target") or (iterations or names)[-1]
    if args.target and target not in names:
        print(f"no judge named {target!r} in every seed (have {names})", file=sys.stderr)
        return 2
    if target not in names:  # --sre-runs with fewer iterations, or --partial: the last iteration there is
        if not iterations:
            print("no self-rationalization iteration is judged in every seed yet", file=sys.stderr)
            return 2
        target = iterations[-1]
    baselines = info.get("baselines") or [n for n in names if n != target and not n.startswith("SRE")]
    effect = measure(per_seed, target=target, baselines=baselines, bootstrap=args.bootstrap)
    effect["seeds"] = seeds
    effect["partial"] = {"unfinished_seeds": missing, "judges_left_out": dropped} if missing else None
    effect["preset"] = args.preset
    effect["overrides"] = args.overrides
    effect["sre_runs"] = {s: str(p) for s, p in sre_runs.items()} or None
    effect["from_predictions"] = recorded_from or None
    manifests = {s: m["manifest"] for s, (_, m) in zip(seeds, loaded, strict=True)}
    effect["seed_judge"] = {s: m.get("seed_judge") for s, m in manifests.items()}
    if args.seed_judge_data is not None:
        effect["seed_judge_data_overlap"] = {
            s: instruction_overlap(args.out / f"seed{s}" / "data" / "heldout.jsonl", args.seed_judge_data) for s in to_run
        }
    effect["wall_time_s_this_call"] = times
    effect["demo_wall_time_s"] = {s: m.get("wall_time_s") for s, m in manifests.items()}
    effect["demo_peak_rss_mb"] = {s: m.get("peak_rss_mb") for s, m in manifests.items()}
    effect["curation"] = {
        s: None if s in recorded else  # in the record the predictions came from
        {k: v for k, v in json.loads((args.out / f"seed{s}" / "manifest.json").read_text())["stages"].items()
         if k.endswith(("/curation", "/sampling")) or k == "rs_sft"}
        for s in seeds
    }
    text = markdown(effect)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "effect.json").write_text(json.dumps(effect, indent=1, default=str), encoding="utf-8")
    (args.out / "effect.md").write_text(text, encoding="utf-8")
    write_predictions(args.out / "predictions.jsonl", dict(zip(seeds, per_seed, strict=True)))
    print(f"wrote {args.out / 'effect.json'}, {args.out / 'effect.md'} and {args.out / 'predictions.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
