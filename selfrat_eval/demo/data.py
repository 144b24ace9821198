"""Bundled synthetic judging tasks with verified gold scores (no download).

Each task asks for a short bulleted list under four checkable constraints; the response meets a
chosen subset of them. The gold score is NOT the intended subset: it is computed by running the
checker functions on the final response text (score = constraints met + 1, so levels 1..5). The
reference rationale cites the checkers' evidence (what was met or violated and why) and ends in
``[RESULT] <gold>`` (:func:`selfrat_eval.formats.format_judgment`).

Train and held-out tasks use disjoint topics and disjoint instruction frames, so a judge cannot
score held-out items by memorising training instructions. Everything derives from one seed.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..formats import format_judgment
from ..records import PointwiseItem
from ..rubric import Rubric

Split = Literal["train", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "heldout")
N_CONSTRAINTS = 4  # four constraints -> 0..4 met -> rubric levels 1..5

# ---- vocabulary ---------------------------------------------------------------------------------
# Topic nouns are split between train and held-out; marker words (the include/exclude targets) are
# kept out of every noun and predicate so a marker only appears where the generator put it.

TRAIN_TOPICS: dict[str, tuple[str, ...]] = {
    "fruits": ("Apples", "Pears", "Plums", "Mangoes", "Grapes", "Lemons", "Cherries", "Peaches"),
    "animals": ("Horses", "Rabbits", "Otters", "Foxes", "Owls", "Goats", "Deer", "Ducks"),
    "tools": ("Hammers", "Saws", "Drills", "Wrenches", "Pliers", "Chisels", "Ladders", "Rakes"),
    "instruments": ("Pianos", "Violins", "Drums", "Flutes", "Guitars", "Trumpets", "Harps", "Cellos"),
    "vegetables": ("Carrots", "Onions", "Peas", "Leeks", "Beets", "Radishes", "Turnips", "Potatoes"),
    "birds": ("Robins", "Sparrows", "Crows", "Swans", "Geese", "Finches", "Gulls", "Pigeons"),
    "sports": ("Tennis", "Rugby", "Cricket", "Hockey", "Rowing", "Cycling", "Boxing", "Skiing"),
    "vehicles": ("Buses", "Trucks", "Bikes", "Vans", "Trains", "Ferries", "Scooters", "Trams"),
}
HELDOUT_TOPICS: dict[str, tuple[str, ...]] = {
    "trees": ("Oaks", "Maples", "Pines", "Birches", "Willows", "Cedars", "Elms", "Palms"),
    "drinks": ("Juices", "Teas", "Coffees", "Smoothies", "Lemonades", "Ciders", "Milkshakes", "Sodas"),
    "insects": ("Bees", "Ants", "Moths", "Beetles", "Crickets", "Wasps", "Ladybugs", "Dragonflies"),
    "furniture": ("Chairs", "Tables", "Sofas", "Shelves", "Desks", "Benches", "Stools", "Wardrobes"),
}
PREDICATES: tuple[str, ...] = (
    "are easy to find",
    "can be seen in many places",
    "are useful to people",
    "come in many sizes",
    "are often shown in books",
    "need some care",
    "are liked by children",
    "have a long history",
    "are part of daily life for some",
    "make people smile",
    "can last for years",
    "appear in old stories",
)
MARKER_WORDS: tuple[str, ...] = (
    "golden", "quiet", "gentle", "famous", "humble", "bright",
    "clever", "steady", "curious", "lively", "modest", "sturdy",
)

# Instruction frames: {n} items, {topic}, {rules}. Disjoint between splits.
FRAMES: dict[Split, tuple[str, ...]] = {
    "train": (
        "Write a list of {n} {topic}, one per line starting with '- '. {rules}",
        "List {n} {topic} as bullet points, each line starting with '- '. {rules}",
        "Name {n} {topic} in a bulleted list ('- ' at the start of each line). {rules}",
    ),
    "heldout": (
        "Give me {n} {topic} in a bullet list where every line begins with '- '. {rules}",
        "Produce a '- ' bulleted list naming {n} {topic}. {rules}",
    ),
}

# ---- checkers -----------------------------------------------------------------------------------

ConstraintKind = Literal["count", "capital", "period", "include", "exclude", "max_words"]
ALL_KINDS: tuple[ConstraintKind, ...] = ("count", "capital", "period", "include", "exclude", "max_words")
# Every task has the item-count constraint plus three of the others.
OPTIONAL_KINDS: tuple[ConstraintKind, ...] = ("capital", "period", "include", "exclude", "max_words")

_WORD = re.compile(r"[A-Za-z']+")


def list_items(response: str) -> list[str]:
    """The bullet items of a response: text after ``- `` on each line that starts with it."""
    return [line.strip()[2:].strip() for line in response.splitlines() if line.strip().startswith("- ")]


def word_count(response: str) -> int:
    """Words (letters and apostrophes) in the whole response; bullets and punctuation do not count."""
    return len(_WORD.findall(response))


def _has_word(response: str, word: str) -> bool:
    return re.search(rf"(?<![A-Za-z']){re.escape(word)}(?![A-Za-z'])", response, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Check:
    """Outcome of one constraint on one response, with the evidence the rationale cites."""

    kind: str
    met: bool
    evidence: str


NO_ITEMS = "no list items"  # evidence of the item checkers when the response has no list


def _first_word(item: str) -> str:
    words = _WORD.findall(item)
    return words[0] if words else "?"


def check_count(response: str, n: int) -> Check:
    items = list_items(response)
    stray = [ln for ln in response.splitlines() if ln.strip() and not ln.strip().startswith("- ")]
    if stray:
        return Check("count", False, f"{len(stray)} line(s) outside the list")
    listed = ", ".join(_first_word(it) for it in items) or "none"
    return Check("count", len(items) == n, f"{listed} = {len(items)}, asked {n}")


def check_capital(response: str) -> Check:
    items = list_items(response)
    if not items:
        return Check("capital", False, NO_ITEMS)
    firsts = [it[:1] for it in items]
    return Check("capital", all(f.isupper() for f in firsts), ", ".join(firsts))


def check_period(response: str) -> Check:
    items = list_items(response)
    if not items:
        return Check("period", False, NO_ITEMS)
    ends = [it[-1:] for it in items]
    return Check("period", all(e == "." for e in ends), ", ".join(f"'{e}'" for e in ends))


def _item_with(response: str, word: str) -> int | None:
    for k, item in enumerate(list_items(response), start=1):
        if _has_word(item, word):
            return k
    return None


def check_include(response: str, word: str) -> Check:
    if _has_word(response, word):
        k = _item_with(response, word)
        return Check("include", True, f"in item {k}" if k else "used")
    return Check("include", False, "absent")


def check_exclude(response: str, word: str) -> Check:
    if _has_word(response, word):
        k = _item_with(response, word)
        return Check("exclude", False, f"in item {k}" if k else "used")
    return Check("exclude", True, "absent")


def check_max_words(response: str, k: int) -> Check:
    wc = word_count(response)
    return Check("max_words", wc <= k, f"{wc} words, limit {k}")


@dataclass(frozen=True)
class Constraint:
    """One checkable constraint: its kind and parameter (item count, word or word limit)."""

    kind: ConstraintKind
    param: int | str | None = None

    def rule(self) -> str:
        """How the instruction states it."""
        return {
            "count": f"Give exactly {self.param} items.",
            "capital": "Start every item with a capital letter.",
            "period": "End every item with a period.",
            "include": f"Use the word '{self.param}'.",
            "exclude": f"Do not use the word '{self.param}'.",
            "max_words": f"Use at most {self.param} words in total.",
        }[self.kind]

    def label(self) -> str:
        """Short name the rationale uses."""
        return {
            "count": "Item count",
            "capital": "Capitals",
            "period": "Periods",
            "include": f"Word '{self.param}'",
            "exclude": f"No '{self.param}'",
            "max_words": "Word limit",
        }[self.kind]

    def check(self, response: str) -> Check:
        fn: Callable[..., Check] = CHECKERS[self.kind]
        return fn(response) if self.param is None else fn(response, self.param)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "param": self.param}


CHECKERS: dict[str, Callable[..., Check]] = {
    "count": check_count,
    "capital": check_capital,
    "period": check_period,
    "include": check_include,
    "exclude": check_exclude,
    "max_words": check_max_words,
}


def check_all(response: str, constraints: Sequence[Constraint]) -> list[Check]:
    return [c.check(response) for c in constraints]


def gold_score(response: str, constraints: Sequence[Constraint]) -> int:
    """Verified gold: number of constraints the response actually meets, plus one."""
    return 1 + sum(ch.met for ch in check_all(response, constraints))


# ---- rubric and rationale -----------------------------------------------------------------------

RUBRIC = Rubric(
    criteria="How many of the four constraints stated in the instruction does the response satisfy?",
    descriptions={
        1: "The response meets none of the four constraints.",
        2: "The response meets exactly one of the four constraints.",
        3: "The response meets exactly two of the four constraints.",
        4: "The response meets exactly three of the four constraints.",
        5: "The response meets all four constraints.",
    },
)


def reference_rationale(constraints: Sequence[Constraint], checks: Sequence[Check], running_count: bool = False) -> str:
    """Evidence-first rationale: one clause per constraint, the evidence (copied from the response:
    the items' first words, first letters, last characters; where a word occurs; the word count)
    and then the verdict it implies, then the count that fixes the score.

    Evidence before verdict turns each verdict into a local decision on text the judge has just
    copied, which a small judge can learn from a few dozen examples; with the verdict first
    ("Capitals: violated (item 2 ...)") SmolLM2-135M's held-out verdicts stayed at chance. Kept
    terse on purpose: every sampled judgment costs CPU time in the demo.

    ``running_count`` adds the count of met constraints so far to every verdict ("(met, 2 so
    far)."), so the final count is a copy of the last one instead of a count over four clauses:
    the p9 seed judge's count sentence agreed with its own verdicts in only 22-31% of its
    judgments, and DPO moved that count's prior, not its link to the verdicts."""
    parts, met = [], 0
    for c, ch in zip(constraints, checks, strict=True):
        met += ch.met
        so_far = f", {met} so far" if running_count else ""
        parts.append(f"{c.label()}: {ch.evidence} ({'met' if ch.met else 'violated'}{so_far}).")
    return " ".join(parts) + f" {met} of {len(checks)} met, so the score is {met + 1}."


# "(met)." or, with running counts, "(met, 2 so far)."
VERDICT = re.compile(r"\((met|violated)(?:, (\d+) so far)?\)\.")


def stated_verdicts(rationale: str) -> list[tuple[bool, int | None]]:
    """Per verdict in the text, (met?, the running count it states or None)."""
    return [(v == "met", int(k) if k else None) for v, k in VERDICT.findall(rationale)]


def score_follows_verdicts(rationale: str, score: int) -> bool:
    """Whether a judgment in the demo's rationale format is consistent with itself: one verdict per
    constraint and the score it gives is 1 + the verdicts it calls met; where it states running
    counts, every clause states one and each is the number of verdicts called met up to there.
    Uses only the judgment's own text (never the gold verdicts), so it can filter self-sampled
    judgments: a judgment can land on the gold score through a wrong verdict and a miscount that
    cancel."""
    verdicts = stated_verdicts(rationale)
    if len(verdicts) != N_CONSTRAINTS or 1 + sum(met for met, _ in verdicts) != score:
        return False
    counts = [k for _, k in verdicts]
    if all(k is None for k in counts):
        return True
    return counts == list(itertools.accumulate(int(met) for met, _ in verdicts))


# "Label: evidence (verdict)." with the labels of Constraint.label()
CLAUSE = re.compile(r"(Item count|Capitals|Periods|Word '[^']*'|No '[^']*'|Word limit): (.*?) " + VERDICT.pattern)


def verdict_from_evidence(label: str, evidence: str) -> bool | None:
    """The verdict (met = True) that a clause's evidence implies, read with the checker's own
    evidence format (:func:`check_count` ... :func:`check_max_words`); None when the evidence is
    not in that format. A judge can copy the evidence right and still write the wrong verdict."""
    if label == "Item count":
        m = re.fullmatch(r".* = (\d+), asked (\d+)", evidence)
        if m:
            return m.group(1) == m.group(2)
        return False if re.fullmatch(r"\d+ line\(s\) outside the list", evidence) else None
    if label in ("Capitals", "Periods"):
        if evidence == NO_ITEMS:
            return False
        parts = evidence.split(", ")
        if label == "Capitals":
            return all(p.isupper() for p in parts) if all(len(p) == 1 for p in parts) else None
        return all(p == "'.'" for p in parts) if all(re.fullmatch(r"'.?'", p) for p in parts) else None
    if label == "Word limit":
        m = re.fullmatch(r"(\d+) words, limit (\d+)", evidence)
        return int(m.group(1)) <= int(m.group(2)) if m else None
    if evidence == "absent":
        present = False
    elif re.fullmatch(r"in item \d+|used", evidence):
        present = True
    else:
        return None
    return present if label.startswith("Word '") else not present  # include vs exclude


def evidence_and_stated_verdicts(rationale: str) -> list[tuple[bool | None, bool]] | None:
    """Per clause, (the verdict its evidence implies, the verdict it states); None unless the
    rationale has one clause per constraint."""
    clauses = CLAUSE.findall(rationale)
    if len(clauses) != N_CONSTRAINTS:
        return None
    return [(verdict_from_evidence(label, ev), v == "met") for label, ev, v, _ in clauses]


def verdicts_follow_evidence(rationale: str, score: int) -> bool:
    """:func:`score_follows_verdicts` and, in every clause, the verdict its own evidence implies:
    the stricter self-consistency check (``curation.consistency: constraint-evidence``). It still
    uses only the judgment's text; evidence copied wrongly passes when the verdict follows it."""
    pairs = evidence_and_stated_verdicts(rationale)
    if pairs is None or not score_follows_verdicts(rationale, score):
        return False
    return all(implied is stated for implied, stated in pairs)


def clause_kind(label: str) -> str:
    """The constraint kind of a rationale's clause label ("No 'calm'" -> exclude); unknown: the label."""
    word = re.fullmatch(r"(?:No|Word) '(.+)'", label)
    kinds = ("include", "exclude") if word else ("count", "capital", "period", "max_words")
    for kind in kinds:
        if Constraint(kind, word[1] if word else None).label() == label:  # type: ignore[arg-type]
            return kind
    return label


def verdict_contrasts(chosen: str, rejected: str, reference: str | None = None) -> list[str] | None:
    """The verdicts a preference pair contrasts: per clause whose stated verdict differs between the
    two rationales, ``"<kind>:<chosen's verdict>"`` ("exclude:violated": the chosen judgment calls
    an exclude clause violated where the rejected one calls it met). DPO raises the chosen verdict
    and lowers the rejected one, so when one direction dominates a kind, a judge can fit the pairs
    by moving that kind's verdict prior instead of reading the evidence
    (``curation.balance_contrasts: constraint-verdicts``). None when the two rationales do not name
    the same clauses in the same order. ``reference`` is not read (see :func:`rejected_verdict_errors`)."""
    return _differing_verdicts(chosen, rejected)


def rejected_verdict_errors(chosen: str, rejected: str, reference: str | None) -> list[str] | None:
    """The rejected judgment's wrong verdicts against the item's reference rationale, named like
    :func:`verdict_contrasts` by kind and the right verdict ("exclude:violated": the rejected judgment
    calls an exclude clause met that the reference calls violated); ``chosen`` is not read
    (``curation.balance_contrasts: constraint-errors``). None without a reference or when the two do
    not name the same clauses."""
    return None if reference is None else _differing_verdicts(reference, rejected)


def _differing_verdicts(first: str, second: str) -> list[str] | None:
    a, b = CLAUSE.findall(first), CLAUSE.findall(second)
    if len(a) != N_CONSTRAINTS or [c[0] for c in a] != [c[0] for c in b]:
        return None
    return [f"{clause_kind(label)}:{va}" for (label, _, va, _), (_, _, vb, _) in zip(a, b, strict=True) if va != vb]


# ---- generation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and seed of the bundled data. ``n_*`` multiples of 5 give exactly balanced scores."""

    n_train: int = 200
    n_heldout: int = 100
    seed: int = 0
    min_items: int = 2
    max_items: int = 4
    with_reference: bool = True  # a response meeting every constraint, as Feedback-Collection has
    running_count: bool = False  # reference rationales state the met count after every verdict

    def __post_init__(self) -> None:
        if self.n_train < 0 or self.n_heldout < 0:
            raise ValueError("n_train and n_heldout must be >= 0")
        if not 2 <= self.min_items <= self.max_items <= 7:
            # a violated count may add one item, and every topic has 8 nouns
            raise ValueError("need 2 <= min_items <= max_items <= 7")


@dataclass(frozen=True)
class SyntheticTask:
    """One generated judging task before conversion to a :class:`PointwiseItem`."""

    id: str
    split: Split
    topic: str
    frame: int
    instruction: str
    response: str
    reference_answer: str
    constraints: tuple[Constraint, ...]
    checks: tuple[Check, ...]
    gold_score: int
    rationale: str = field(default="")

    @property
    def target(self) -> str:
        return format_judgment(self.rationale, self.gold_score)


class GenerationError(RuntimeError):
    """The generator failed to produce a response with the intended score (a bug, not bad input)."""


def _render_items(items: Sequence[str]) -> str:
    return "\n".join(f"- {it}" for it in items)


def _make_response(
    rng: random.Random,
    nouns: Sequence[str],
    constraints: Sequence[Constraint],
    satisfy: set[ConstraintKind],
) -> str:
    """Build a response meeting exactly the constraints in ``satisfy`` (max_words is set later)."""
    by_kind = {c.kind: c for c in constraints}
    n = int(by_kind["count"].param)  # type: ignore[arg-type]
    n_items = n if "count" in satisfy else (n + 1 if n == 2 or rng.random() < 0.5 else n - 1)
    chosen = rng.sample(list(nouns), n_items)
    items = [f"{noun} {rng.choice(PREDICATES)}." for noun in chosen]
    if "include" in by_kind and "include" in satisfy:
        j = rng.randrange(n_items)
        items[j] = items[j][:-1] + f", even {by_kind['include'].param} ones."
    if "exclude" in by_kind and "exclude" not in satisfy:
        j = rng.randrange(n_items)
        items[j] = items[j][:-1] + f", mostly {by_kind['exclude'].param} ones."
    # Constraints outside the task still vary, so a judge must read which ones were asked for.
    if ("capital" in by_kind and "capital" not in satisfy) or ("capital" not in by_kind and rng.random() < 0.3):
        for j in rng.sample(range(n_items), rng.randint(1, n_items)):
            items[j] = items[j][0].lower() + items[j][1:]
    if ("period" in by_kind and "period" not in satisfy) or ("period" not in by_kind and rng.random() < 0.3):
        for j in rng.sample(range(n_items), rng.randint(1, n_items)):
            items[j] = items[j][:-1] + rng.choice(["", "!", ";"])
    return _render_items(items)


def _word_limit(rng: random.Random, wc: int, satisfied: bool, n: int) -> int:
    if satisfied:
        return wc + rng.randint(0, 4)
    # Never below n + 2, so a terse reference answer (one noun per item) still fits.
    return max(n + 2, wc - rng.randint(1, 5))


def _reference(nouns: Sequence[str], constraints: Sequence[Constraint], rng: random.Random) -> str:
    """A response that meets every constraint (checked), used as the reference answer."""
    by_kind = {c.kind: c for c in constraints}
    n = int(by_kind["count"].param)  # type: ignore[arg-type]
    items = [f"{noun} {rng.choice(PREDICATES)}." for noun in rng.sample(list(nouns), n)]
    if "include" in by_kind:
        items[0] = items[0][:-1] + f", even {by_kind['include'].param} ones."
    text = _render_items(items)
    # Under a tight word limit, one noun per item (n + 1 words at most) fits any limit we set.
    if "max_words" in by_kind and word_count(text) > int(by_kind["max_words"].param):  # type: ignore[arg-type]
        items = [f"{noun}." for noun in rng.sample(list(nouns), n)]
        if "include" in by_kind:
            items[0] = items[0][:-1] + f", {by_kind['include'].param}."
        text = _render_items(items)
    return text


def _one_task(rng: random.Random, split: Split, index: int, target: int, cfg: SyntheticConfig) -> SyntheticTask:
    topics = TRAIN_TOPICS if split == "train" else HELDOUT_TOPICS
    topic = rng.choice(sorted(topics))
    nouns = topics[topic]
    frame = rng.randrange(len(FRAMES[split]))
    kinds: list[ConstraintKind] = ["count", *rng.sample(list(OPTIONAL_KINDS), N_CONSTRAINTS - 1)]
    words = rng.sample(list(MARKER_WORDS), 2)
    constraints = [
        Constraint(
            k,
            rng.randint(cfg.min_items, cfg.max_items) if k == "count"
            else words[0] if k == "include" else words[1] if k == "exclude" else None,
        )
        for k in kinds
    ]
    satisfy = set(rng.sample(kinds, target - 1))
    response = _make_response(rng, nouns, constraints, satisfy)
    if "max_words" in kinds:
        limit = _word_limit(rng, word_count(response), "max_words" in satisfy, int(constraints[0].param))  # type: ignore[arg-type]
        constraints = [Constraint("max_words", limit) if c.kind == "max_words" else c for c in constraints]
    checks = tuple(check_all(response, constraints))
    gold = 1 + sum(ch.met for ch in checks)
    if gold != target:  # the checkers are the truth; a mismatch means the generator is wrong
        raise GenerationError(f"{split} task {index}: intended score {target}, checkers give {gold}")
    rules = " ".join(c.rule() for c in constraints[1:])
    instruction = FRAMES[split][frame].format(n=constraints[0].param, topic=topic, rules=rules)
    reference = _reference(nouns, constraints, rng) if cfg.with_reference else ""
    if cfg.with_reference and gold_score(reference, constraints) != 1 + N_CONSTRAINTS:
        raise GenerationError(f"{split} task {index}: reference answer does not meet every constraint")
    return SyntheticTask(
        id=f"synth-{split}-{index:05d}",
        split=split,
        topic=topic,
        frame=frame,
        instruction=instruction,
        response=response,
        reference_answer=reference,
        constraints=tuple(constraints),
        checks=checks,
        gold_score=gold,
        rationale=reference_rationale(constraints, checks, cfg.running_count),
    )


def generate_tasks(split: Split, n: int, seed: int = 0, config: SyntheticConfig | None = None) -> list[SyntheticTask]:
    """``n`` tasks of ``split``; gold scores cycle through 1..5 in a seeded order (balanced)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    cfg = config or SyntheticConfig(seed=seed)
    # Separate streams per split: the held-out set does not change when n_train changes.
    rng = random.Random(f"selfrat-demo/{seed}/{split}")
    targets = [1 + (i % 5) for i in range(n)]
    rng.shuffle(targets)
    return [_one_task(rng, split, i, t, cfg) for i, t in enumerate(targets)]


def task_to_item(task: SyntheticTask) -> PointwiseItem:
    """A :class:`PointwiseItem` whose ``metadata['target']`` is the reference judgment text."""
    return PointwiseItem(
        id=task.id,
        instruction=task.instruction,
        response=task.response,
        rubric=RUBRIC,
        reference_answer=task.reference_answer or None,
        gold_score=task.gold_score,
        groups={"topic": task.topic},
        metadata={
            "target": task.target,
            "feedback": task.rationale,
            "split": task.split,
            "frame": task.frame,
            "constraints": [c.to_dict() for c in task.constraints],
            "met": [ch.met for ch in task.checks],
        },
    )


def build_splits(config: SyntheticConfig = SyntheticConfig()) -> dict[Split, list[PointwiseItem]]:
    """Train and held-out items (disjoint topics and instruction frames)."""
    return {
        "train": [task_to_item(t) for t in generate_tasks("train", config.n_train, config.seed, config)],
        "heldout": [task_to_item(t) for t in generate_tasks("heldout", config.n_heldout, config.seed, config)],
    }


# ---- Feedback-Collection export -----------------------------------------------------------------


def feedback_collection_row(item: PointwiseItem) -> dict[str, Any]:
    """One row in the Feedback-Collection layout (``orig_score`` is a string, as upstream)."""
    if item.gold_score is None or "target" not in item.metadata:
        raise ValueError(f"item {item.id}: needs a gold score and metadata['target'] to export")
    from ..training.data import feedback_row

    return feedback_row(item)


def write_feedback_collection(items: Iterable[PointwiseItem], path: str | Path) -> Path:
    """Write items as Feedback-Collection JSONL (``selfrat train`` / ``load_feedback_collection``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(feedback_collection_row(item), ensure_ascii=False) + "\n")
    return path


def write_splits(out_dir: str | Path, config: SyntheticConfig = SyntheticConfig()) -> dict[Split, Path]:
    """``train.jsonl`` and ``heldout.jsonl`` in Feedback-Collection layout under ``out_dir``."""
    splits = build_splits(config)
    out = Path(out_dir)
    return {name: write_feedback_collection(items, out / f"{name}.jsonl") for name, items in splits.items()}
