"""Bundled synthetic judging data: determinism, balance, verified gold, disjoint splits, export."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from helpers_benchmarks import benchmark_script

from selfrat_eval.demo import data as D
from selfrat_eval.formats import absolute_prompt
from selfrat_eval.loaders import contamination_key, load_feedback_collection
from selfrat_eval.parsing import parse_judgment

CFG = D.SyntheticConfig(n_train=100, n_heldout=50, seed=7)


def _analysis_script():
    return benchmark_script("analyze_demo_judgments")


def _flip_item_count(text: str) -> str:
    """``text`` with the item-count clause's verdict (the first clause) turned the other way."""
    return re.sub(r"^(Item count: [^.]*? \()(met|violated)", lambda m: m[1] + ("violated" if m[2] == "met" else "met"), text)


@pytest.fixture(scope="module")
def splits():
    return D.build_splits(CFG)


# ---- checkers on hand-written responses ----------------------------------------------------------


def test_count_checker():
    assert D.check_count("- A.\n- B.\n- C.", 3).met
    assert not D.check_count("- A.\n- B.", 3).met
    assert D.check_count("- A.\n- B.", 3).evidence == "A, B = 2, asked 3"  # evidence: the items' first words
    # a stray line that is not an item breaks the list format
    assert not D.check_count("Here you go:\n- A.\n- B.\n- C.", 3).met
    assert D.check_count("\n- A.\n\n- B.\n", 2).met  # blank lines are ignored


def test_capital_and_period_checkers():
    assert D.check_capital("- Apples are red.\n- Pears too.").met
    bad = D.check_capital("- Apples are red.\n- pears too.")
    assert not bad.met and bad.evidence == "A, p"  # the items' first letters
    assert not D.check_capital("no list at all").met
    assert D.check_period("- A b.\n- C d.").met
    bad = D.check_period("- A b.\n- C d!\n- E f")
    assert not bad.met and bad.evidence == "'.', '!', 'f'"  # the items' last characters


def test_word_checkers_use_word_boundaries():
    assert D.check_include("- Bright lights.", "bright").met  # case-insensitive
    assert not D.check_include("- Brightness matters.", "bright").met  # not a substring match
    assert D.check_exclude("- Brightness matters.", "bright").met
    assert not D.check_exclude("- So, bright ones.", "bright").met


def test_max_words_checker_counts_words_not_bullets():
    text = "- Apples are red.\n- Pears are green."
    assert D.word_count(text) == 6
    assert D.check_max_words(text, 6).met
    assert not D.check_max_words(text, 5).met
    assert D.check_max_words(text, 5).evidence == "6 words, limit 5"


def test_gold_score_counts_met_constraints():
    cons = [D.Constraint("count", 2), D.Constraint("capital"), D.Constraint("include", "quiet"),
            D.Constraint("max_words", 4)]
    assert D.gold_score("- Owls are quiet.\n- Foxes.", cons) == 5
    assert D.gold_score("- owls are quiet.\n- Foxes.", cons) == 4
    assert D.gold_score("- owls are loud.\n- foxes run far away.\n- x", cons) == 1


# ---- generated data ----------------------------------------------------------------------------


def test_deterministic_from_seed():
    a = D.build_splits(CFG)
    b = D.build_splits(CFG)
    assert [(i.id, i.instruction, i.response, i.metadata["target"]) for i in a["train"]] == [
        (i.id, i.instruction, i.response, i.metadata["target"]) for i in b["train"]
    ]
    c = D.build_splits(D.SyntheticConfig(n_train=100, n_heldout=50, seed=8))
    assert [i.response for i in c["train"]] != [i.response for i in a["train"]]
    # held-out items do not depend on how many training items were drawn
    d = D.build_splits(D.SyntheticConfig(n_train=10, n_heldout=50, seed=7))
    assert [i.response for i in d["heldout"]] == [i.response for i in a["heldout"]]


def test_scores_balanced(splits):
    for name, n in (("train", CFG.n_train), ("heldout", CFG.n_heldout)):
        counts = Counter(i.gold_score for i in splits[name])
        assert counts == {s: n // 5 for s in range(1, 6)}, (name, counts)


def test_gold_is_verified_by_checkers_and_targets_parse(splits):
    for item in splits["train"] + splits["heldout"]:
        cons = [D.Constraint(c["kind"], c["param"]) for c in item.metadata["constraints"]]
        assert len(cons) == D.N_CONSTRAINTS and cons[0].kind == "count"
        assert D.gold_score(item.response, cons) == item.gold_score
        assert [c.check(item.response).met for c in cons] == item.metadata["met"]
        # every constraint is stated in the instruction
        for c in cons[1:]:
            assert c.rule() in item.instruction
        j = parse_judgment(item.metadata["target"])
        assert j.ok and j.score == item.gold_score
        assert f"{sum(item.metadata['met'])} of 4 met, so the score is {item.gold_score}" in j.rationale
        # the reference answer meets every constraint
        assert D.gold_score(item.reference_answer, cons) == 5
        assert item.rubric == D.RUBRIC


def test_rationale_cites_violations(splits):
    item = next(i for i in splits["train"] if i.gold_score == 1)
    rationale = item.metadata["feedback"]
    assert rationale.count("violated") == 4 and ": met" not in rationale


def test_splits_disjoint(splits):
    train, held = splits["train"], splits["heldout"]
    assert {i.groups["topic"] for i in train}.isdisjoint({i.groups["topic"] for i in held})
    train_frames = {D.FRAMES["train"][i.metadata["frame"]] for i in train}
    held_frames = {D.FRAMES["heldout"][i.metadata["frame"]] for i in held}
    assert train_frames.isdisjoint(held_frames)
    keys = {contamination_key(i.instruction, i.response) for i in train}
    assert not any(contamination_key(i.instruction, i.response) in keys for i in held)
    assert {i.id for i in train}.isdisjoint({i.id for i in held})
    # the held-out topic nouns never appear in training responses
    held_nouns = {n.lower() for t in D.HELDOUT_TOPICS.values() for n in t}
    train_words = {w.lower() for i in train for w in D._WORD.findall(i.response)}
    assert held_nouns.isdisjoint(train_words)


def test_prompts_stay_compact(splits):
    longest = max(len(absolute_prompt(i.instruction, i.response, i.rubric, i.reference_answer).text())
                  for i in splits["train"])
    assert longest < 2600  # characters; about 500 tokens for SmolLM2


def test_bad_config_rejected():
    with pytest.raises(ValueError):
        D.SyntheticConfig(min_items=5, max_items=3)
    with pytest.raises(ValueError):
        D.generate_tasks("test", 5)  # type: ignore[arg-type]


def test_feedback_collection_round_trip(tmp_path, splits):
    paths = D.write_splits(tmp_path, CFG)
    rows = [json.loads(line) for line in paths["train"].read_text().splitlines()]
    assert len(rows) == CFG.n_train
    assert isinstance(rows[0]["orig_score"], str)
    for key in ("orig_instruction", "orig_response", "orig_reference_answer", "orig_criteria",
                "orig_score1_description", "orig_score5_description", "orig_feedback", "output"):
        assert key in rows[0]
    loaded = load_feedback_collection(paths["train"], decontaminate_against=None)
    assert len(loaded) == CFG.n_train
    for got, want in zip(loaded, splits["train"], strict=True):
        assert got.id == want.id
        assert (got.instruction, got.response, got.gold_score) == (want.instruction, want.response, want.gold_score)
        assert got.rubric == want.rubric
        assert got.reference_answer == want.reference_answer
        assert got.metadata["target"] == want.metadata["target"]
        assert got.metadata["feedback"] == want.metadata["feedback"]
    # the held-out file also decontaminates cleanly against the training file: nothing shared
    held = load_feedback_collection(paths["heldout"], decontaminate_against=list(loaded))
    assert len(held) == CFG.n_heldout and held.dropped == {"contaminated": 0}


def test_demo_modules_import_light():
    import subprocess
    import sys

    code = (
        "import sys, selfrat_eval.demo.data, selfrat_eval.demo.pipeline, selfrat_eval.demo.report, "
        "selfrat_eval.demo.cli\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pair_analysis_counts_wrong_verdicts_against_the_reference_rationale():
    """benchmarks/analyze_demo_judgments.py --pairs: verdict errors of chosen and rejected
    judgments, from the training file's reference rationales."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits

    script = _analysis_script()
    items = build_splits(SyntheticConfig(n_train=10, n_heldout=0, seed=5))["train"][:2]
    targets = {it.id: it.metadata["target"] for it in items}

    def flip(text: str, k: int) -> str:  # flip the first k verdicts
        for _ in range(k):
            text = text.replace("(met)", "(VIOLATED)", 1) if "(met)" in text else text.replace("(violated)", "(MET)", 1)
        return text.replace("(VIOLATED)", "(violated)").replace("(MET)", "(met)")

    def pair(it, chosen_errors: int, rejected_errors: int) -> dict:
        return {"key": it.id, "chosen": [{"role": "assistant", "content": flip(targets[it.id], chosen_errors)}],
                "rejected": [{"role": "assistant", "content": flip(targets[it.id], rejected_errors)}]}

    broken = {"key": items[0].id, "chosen": [{"role": "assistant", "content": "no clauses [RESULT] 3"}],
              "rejected": [{"role": "assistant", "content": targets[items[0].id]}]}
    out = script.analyze_pairs([pair(items[0], 0, 2), pair(items[1], 1, 1), pair(items[1], 2, 1), broken], targets)
    assert out["n_pairs"] == 4 and out["n_unmatched"] == 1
    assert out["chosen_all_verdicts_right"] == round(1 / 3, 3) and out["chosen_wrong_verdicts"] == {0: 1, 1: 1, 2: 1}
    assert out["chosen_wrong_verdicts_mean"] == 1.0 and out["rejected_wrong_verdicts_mean"] == round(4 / 3, 3)
    assert out["chosen_has_more_wrong_verdicts"] == round(1 / 3, 3)


def test_sample_analysis_grades_what_each_consistency_check_would_choose():
    """analyze_demo_judgments.py --samples: per check, the gold-score judgments it lets through,
    the inputs that keep one and how many of those get every verdict right; and the scores a
    judgment's own verdicts and own evidence imply."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits

    script = _analysis_script()
    item = next(it for it in build_splits(SyntheticConfig(n_train=10, n_heldout=0, seed=5))["train"]
                if "(met)" in it.metadata["target"] and "(violated)" in it.metadata["target"])
    rationale, _, gold = item.metadata["target"].rpartition(" [RESULT] ")
    gold = int(gold)
    swapped = rationale.replace("(met)", "(X)", 1).replace("(violated)", "(met)", 1).replace("(X)", "(violated)")
    flipped_one = rationale.replace("(met)", "(violated)", 1)
    # right; two verdicts swapped (count still right, evidence contradicted); off gold; miscounted
    samples = [(rationale, gold), (swapped, gold), (rationale, gold % 5 + 1), (flipped_one, gold)]
    rec = {"key": item.id, "gold": gold, "samples": [{"rationale": r, "score": s} for r, s in samples]
           + [{"rationale": None, "score": None}]}
    out = script.analyze_samples([rec], {item.id: item.metadata["target"]})
    assert out["n_inputs"] == 1
    assert out["checks"]["none"] == {"on_gold_passing": 3, "inputs_kept": 1, "all_verdicts_right": round(1 / 3, 3)}
    assert out["checks"]["constraint-count"] == {"on_gold_passing": 2, "inputs_kept": 1, "all_verdicts_right": 0.5}
    assert out["checks"]["constraint-evidence"] == {"on_gold_passing": 1, "inputs_kept": 1, "all_verdicts_right": 1.0}
    met = rationale.count("(met)")
    assert script.implied_scores(f"{swapped} [RESULT] {gold}") == (1 + met, 1 + met)
    assert script.implied_scores(flipped_one) == (met, 1 + met)  # the evidence still says met
    assert script.implied_scores("Capitals: A (met).") == (None, None)


def test_judgment_analysis_reads_running_count_rationales_like_plain_ones():
    """The running-count format ("(met, 2 so far).") carries the same clauses, verdicts and
    implied scores as the plain one, so the analyses compare judges across both formats."""
    from selfrat_eval.demo.data import SyntheticConfig, build_splits

    script = _analysis_script()
    plain = build_splits(SyntheticConfig(n_train=15, n_heldout=0, seed=5))["train"]
    counted = build_splits(SyntheticConfig(n_train=15, n_heldout=0, seed=5, running_count=True))["train"]
    for a, b in zip(plain, counted, strict=True):
        assert script.clauses(b.metadata["target"]) == script.clauses(a.metadata["target"])
        assert len(script.clauses(b.metadata["target"])) == 4
        implied = script.implied_scores(b.metadata["target"])
        assert implied == script.implied_scores(a.metadata["target"]) == (b.gold_score, b.gold_score)


def test_judgment_analysis_counts_verdicts_that_contradict_their_own_evidence():
    """A judge that writes "met" for the item count whatever its own cited count says: the
    analysis reports the count verdict as always met and, on the items whose count is wrong, as
    contradicting the judgment's own evidence; the other clauses stay consistent."""
    import re

    from selfrat_eval.demo.data import SyntheticConfig, build_splits

    script = _analysis_script()
    items = build_splits(SyntheticConfig(n_train=40, n_heldout=0, seed=5))["train"]
    flipped = 0
    rows = []
    for it in items:
        text = it.metadata["target"]
        judged = re.sub(r"^(Item count: [^.]*? \()violated", r"\1met", text)
        flipped += judged != text
        rows.append({
            "id": str(it.id),
            "requests": {"score": {"draws": [{"text": judged}], "decision": {}}},
            "result": {"pred": float(it.gold_score), "gold": float(it.gold_score)},
        })
    assert 0 < flipped < len(items)
    out = script.analyze({"items": rows, "metrics": {"pearson": None}}, {str(it.id): it for it in items})
    assert out["verdict_met"]["count"] == 1.0
    assert out["verdict_against_own_evidence"]["count"] == round(flipped / len(items), 3)
    assert all(v == 0.0 for k, v in out["verdict_against_own_evidence"].items() if k != "count")
    assert out["verdict_accuracy"]["count"] == round(1 - flipped / len(items), 3)


def test_pair_analysis_counts_each_clauses_wrong_verdicts_by_direction():
    """Which wrong verdicts DPO is told to push down, per clause: a rejected judgment whose item
    count says the opposite of the truth is counted under its direction; the chosen (the
    reference) has none."""
    import re

    from selfrat_eval.demo.data import SyntheticConfig, build_splits

    script = _analysis_script()
    items = build_splits(SyntheticConfig(n_train=30, n_heldout=0, seed=3, running_count=True))["train"]

    pairs = [
        {"key": str(it.id), "chosen": [{"content": it.metadata["target"]}], "rejected": [{"content": _flip_item_count(it.metadata["target"])}]}
        for it in items
    ]
    truth_met = sum(script.clauses(it.metadata["target"])[0][1] == "met" for it in items)
    out = script.analyze_pairs(pairs, {str(it.id): it.metadata["target"] for it in items})
    assert out["n_unmatched"] == 0 and out["chosen_all_verdicts_right"] == 1.0
    assert out["wrong_verdicts_by_clause"]["Item count"] == {
        k: v
        for k, v in {"rejected_met_when_violated": len(items) - truth_met, "rejected_violated_when_met": truth_met}.items()
        if v
    }
    assert set(out["wrong_verdicts_by_clause"]) == {"Item count"}
    assert out["wrong_verdicts_by_kind"] == {"count": out["wrong_verdicts_by_clause"]["Item count"]}
    # exclude clauses of different words are summed under one kind
    excluding = [it for it in items if "No '" in it.metadata["target"]]
    flip_exclude = [
        {"key": str(it.id), "chosen": [{"content": it.metadata["target"]}],
         "rejected": [{"content": re.sub(r"(No '[^']+': [^.]*? \()(met|violated)",
                                         lambda m: m[1] + ("violated" if m[2] == "met" else "met"), it.metadata["target"])}]}
        for it in excluding
    ]
    out = script.analyze_pairs(flip_exclude, {str(it.id): it.metadata["target"] for it in items})
    by_kind, by_clause = out["wrong_verdicts_by_kind"], out["wrong_verdicts_by_clause"]
    assert len(by_clause) >= 2 and all(label.startswith("No '") for label in by_clause)  # several words
    assert set(by_kind) == {"exclude"} and sum(by_kind["exclude"].values()) == len(excluding)
    assert [script.clause_kind(x) for x in ("No 'calm'", "Word 'calm'", "Item count", "Word limit", "Odd")] == [
        "exclude", "include", "count", "max_words", "Odd"]
    # every rejected item-count verdict contradicts its own cited count; the reference follows it
    assert out["rejected_passes_check"]["constraint-evidence"] == 0.0
    swapped = script.analyze_pairs([{**p, "rejected": p["chosen"]} for p in pairs], {str(it.id): it.metadata["target"] for it in items})
    assert swapped["rejected_passes_check"] == {"constraint-count": 1.0, "constraint-evidence": 1.0}


def test_verdict_contrasts_name_each_differing_verdict_by_kind_and_the_chosen_direction():
    """On the generator's own rationales: flipping one exclude verdict in the rejected copy gives one
    contrast, named by kind and the chosen (true) verdict; equal rationales give none; rationales
    that do not name the same four clauses cannot be aligned (None)."""
    import re

    items = D.build_splits(D.SyntheticConfig(n_train=40, n_heldout=0, seed=5))["train"]
    excluding = [it for it in items if "No '" in it.metadata["feedback"]]
    assert excluding
    for it in excluding:
        text = it.metadata["feedback"]
        flipped = re.sub(r"(No '[^']+': [^.]*? \()(met|violated)", lambda m: m[1] + ("violated" if m[2] == "met" else "met"), text)
        truth = "met" if re.search(r"No '[^']+': [^.]*? \(met", text) else "violated"
        assert D.verdict_contrasts(text, flipped) == [f"exclude:{truth}"]
        assert D.verdict_contrasts(flipped, text) == [f"exclude:{'violated' if truth == 'met' else 'met'}"]
        assert D.verdict_contrasts(text, text) == []
        assert D.verdict_contrasts(text, text.split(". ", 1)[1]) is None  # a clause short
    labels = {tuple(c[0] for c in D.CLAUSE.findall(it.metadata["feedback"])) for it in items}
    a, b = (next(it.metadata["feedback"] for it in items if tuple(c[0] for c in D.CLAUSE.findall(it.metadata["feedback"])) == lab)
            for lab in sorted(labels)[:2])
    assert D.verdict_contrasts(a, b) is None  # different constraints


def test_training_set_verdict_marginals_of_pairs_and_of_rebuilt_rs_sft_examples(tmp_path):
    """analyze_demo_judgments.py: the "met" share per kind of what a judge trains on. ``--pairs``
    gives it for chosen, rejected and the truth; ``--rs-sft RUN`` rebuilds the RS-SFT examples from
    the run's samples and config as the pipeline does: only judgments on the gold score."""
    import yaml
    from helpers_training import tiny_config

    from selfrat_eval.demo.data import SyntheticConfig, build_splits
    from selfrat_eval.parsing import parse_judgment

    script = _analysis_script()
    items = build_splits(SyntheticConfig(n_train=20, n_heldout=0, seed=3, running_count=True))["train"]
    targets = {str(it.id): it.metadata["target"] for it in items}

    truth = script.met_by_kind(list(targets.values()))
    pairs = [{"key": k, "chosen": [{"content": t}], "rejected": [{"content": _flip_item_count(t)}]} for k, t in targets.items()]
    met = script.analyze_pairs(pairs, targets)["verdict_met"]
    assert met["chosen"] == met["truth"] == truth and set(truth) == {"count", "capital", "period", "max_words", "include", "exclude"}
    assert met["rejected"]["count"] == round(1 - truth["count"], 3)
    assert {k: v for k, v in met["rejected"].items() if k != "count"} == {k: v for k, v in truth.items() if k != "count"}

    # a run: every input has its true judgment on the gold score and a count-flipped one off it
    run = tmp_path / "run"
    (run / "iter1").mkdir(parents=True)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"__index_level_0__": k, "output": t}) + "\n" for k, t in targets.items()))
    raw = tiny_config(tmp_path, tmp_path / "model", data, None, **{"rs_sft.per_input": 2, "curation.balance": "none"})
    (run / "config.yaml").write_text(yaml.safe_dump(raw))
    records = []
    for it in items:
        parsed = parse_judgment(targets[str(it.id)])
        wrong = 1 if parsed.score > 2 else 5
        samples = [{"score": parsed.score, "rationale": parsed.rationale, "text": "", "error": None},
                   {"score": wrong, "rationale": _flip_item_count(parsed.rationale), "text": "", "error": None}]
        records.append({"key": str(it.id), "gold": parsed.score, "prompt": [{"role": "user", "content": str(it.id)}], "samples": samples})
    (run / "iter1" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = script.analyze_rs_sft_examples(run)
    assert out["n_examples"] == len(items)
    assert out["verdict_met"] == {"examples": truth, "truth": truth}
