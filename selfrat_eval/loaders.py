"""Benchmark loaders: Hugging Face Hub ids by default, or local files/dirs in the same layout.

Every loader validates rows and raises :class:`DataError` naming the source, the row and the
field. Rows that are dropped on purpose (unrated, multilingual, contaminated...) are counted in
``Loaded.dropped``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from .records import DataError, PairwiseItem, PointwiseItem
from .rubric import Rubric, RubricError, get_rubric

log = logging.getLogger(__name__)

T = TypeVar("T")

BIGGEN_HUB_ID = "prometheus-eval/BiGGen-Bench"
BIGGEN_RESULTS_HUB_ID = "prometheus-eval/BiGGen-Bench-Results"
FEEDBACK_BENCH_HUB_ID = "prometheus-eval/Feedback-Bench"
FEEDBACK_COLLECTION_HUB_ID = "prometheus-eval/Feedback-Collection"
PREFERENCE_COLLECTION_HUB_ID = "prometheus-eval/Preference-Collection"
REWARDBENCH_HUB_ID = "allenai/reward-bench"

BIGGEN_NON_ENGLISH_CAPABILITIES = frozenset({"multilingual"})
BIGGEN_LLM_JUDGE_TASKS = frozenset({"llm_judge_absolute", "llm_judge_relative"})

_DATA_SUFFIXES = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass
class Loaded(Generic[T]):
    """Loaded records plus where they came from and what was dropped on purpose (by reason)."""

    items: list[T]
    source: str
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


# ---- raw table reading --------------------------------------------------------------------------


def _find_split_file(directory: Path, split: str) -> list[Path]:
    files = [p for p in sorted(directory.rglob("*")) if p.suffix in _DATA_SUFFIXES and p.is_file()]
    named = [p for p in files if p.stem == split or p.stem.startswith(f"{split}-")]
    if named:
        return named
    if len(files) == 1:
        return files
    return []


def _scan_json_lines(path: Path) -> list[dict[str, Any]]:
    """Line-by-line fallback that pinpoints the malformed line datasets could not read."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {lineno}: expected a JSON object per line")
            rows.append(row)
    return rows


def _read_local_files(files: Sequence[Path]) -> list[dict[str, Any]]:
    import datasets

    builder = _DATA_SUFFIXES[files[0].suffix]
    try:
        ds = datasets.load_dataset(builder, data_files=[str(f) for f in files], split="train")
        return ds.to_list()
    except Exception as exc:  # noqa: BLE001 - re-raised below with the file and line
        if builder != "json":
            raise DataError(f"{files[0]}: cannot read {builder} data ({exc})") from exc
        rows: list[dict[str, Any]] = []
        for f in files:
            if f.suffix == ".json":
                try:
                    data = json.loads(f.read_text(encoding="utf-8"))
                except json.JSONDecodeError as jexc:
                    raise DataError(f"{f}: invalid JSON ({jexc})") from None
                if not isinstance(data, list):
                    raise DataError(f"{f}: expected a JSON list of objects") from None
                rows.extend(data)
            else:
                rows.extend(_scan_json_lines(f))
        # Every line parses on its own: datasets failed on mixed types, which validation reports.
        return rows


def read_rows(source: str | Path, *, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a local file, a local dir (split file or hub snapshot), or a Hub dataset id."""
    path = Path(source)
    if path.is_file():
        if path.suffix not in _DATA_SUFFIXES:
            raise DataError(f"{path}: unsupported file type (use .jsonl, .json, .parquet or .csv)")
        return _read_local_files([path])
    if path.is_dir():
        files = _find_split_file(path, split)
        if not files:
            raise DataError(f"{path}: no data file for split {split!r} (expected {split}.jsonl etc.)")
        return _read_local_files(files)
    if str(source).startswith((".", "/", "~")) or Path(str(source)).suffix in _DATA_SUFFIXES:
        raise DataError(f"{source}: file or directory not found")
    import datasets

    try:
        ds = datasets.load_dataset(str(source), config, split=split)
    except Exception as exc:  # noqa: BLE001 - offline or missing: say how to use local files
        raise DataError(
            f"cannot load dataset {source!r} split {split!r} from the Hugging Face Hub ({exc}). "
            "Offline? Pass a local file or directory in the same layout instead."
        ) from exc
    return ds.to_list()


# ---- field validation ---------------------------------------------------------------------------


def _field(row: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> Any:
    if name not in row or row[name] is None:
        if optional:
            return None
        raise DataError(f"{where}: field {name!r} is missing")
    return row[name]


def _text(row: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> str | None:
    value = _field(row, name, where, optional=optional)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: field {name!r} must be text, got {type(value).__name__}")
    return value


def _int_score(value: Any, name: str, where: str, allowed: Iterable[int]) -> int:
    try:
        as_float = float(str(value).strip())
    except ValueError:
        raise DataError(f"{where}: field {name!r} is not a number: {value!r}") from None
    if not as_float.is_integer() or int(as_float) not in set(allowed):
        raise DataError(f"{where}: field {name!r} has out-of-range value {value!r}")
    return int(as_float)


def _rubric_from_row(row: Mapping[str, Any], where: str, *, prefix: str = "") -> Rubric:
    data = {"criteria": _text(row, f"{prefix}criteria", where)}
    for level in range(1, 6):
        data[f"score{level}_description"] = _text(row, f"{prefix}score{level}_description", where)
    try:
        return Rubric.from_dict(data, where=where)
    except RubricError as exc:
        raise DataError(str(exc)) from None


def _nested_rubric(row: Mapping[str, Any], where: str) -> Rubric:
    raw = _field(row, "score_rubric", where)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise DataError(f"{where}: field 'score_rubric' is not a rubric object") from None
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: field 'score_rubric' must be an object")
    return _rubric_from_row(raw, f"{where}, field 'score_rubric'")


def _label(source: str | Path) -> str:
    return str(source)


# ---- BiGGen Bench -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BiGGenInstance:
    """A BiGGen Bench instance (no response yet): what a model is asked and how it is graded."""

    id: str
    capability: str
    task: str
    instance_idx: int
    system_prompt: str
    input: str
    reference_answer: str
    rubric: Rubric

    def item(self, response: str, *, model_name: str | None = None, gold_score: int | None = None) -> PointwiseItem:
        """The pointwise item that grades ``response`` to this instance."""
        groups = {"capability": self.capability, "task": self.task}
        if model_name is not None:
            groups["model_name"] = model_name
        item_id = self.id if model_name is None else f"{self.id}::{model_name}"
        return PointwiseItem(
            id=item_id,
            instruction=self.input,
            response=response,
            rubric=self.rubric,
            reference_answer=self.reference_answer,
            gold_score=gold_score,
            groups=groups,
            metadata={"system_prompt": self.system_prompt},
        )


def _biggen_instance(row: Mapping[str, Any], where: str) -> BiGGenInstance:
    idx = _field(row, "instance_idx", where)
    try:
        idx = int(idx)
    except (TypeError, ValueError):
        raise DataError(f"{where}: field 'instance_idx' is not an integer: {idx!r}") from None
    return BiGGenInstance(
        id=_text(row, "id", where),
        capability=_text(row, "capability", where),
        task=_text(row, "task", where),
        instance_idx=idx,
        system_prompt=_text(row, "system_prompt", where, optional=True) or "",
        input=_text(row, "input", where),
        reference_answer=_text(row, "reference_answer", where, optional=True) or "",
        rubric=_nested_rubric(row, where),
    )


def _biggen_keep(capability: str, task: str, include_multilingual: bool, skip_llm_judge_tasks: bool) -> str | None:
    """Why a BiGGen row is dropped, or None to keep it."""
    if not include_multilingual and capability in BIGGEN_NON_ENGLISH_CAPABILITIES:
        return "multilingual"
    if skip_llm_judge_tasks and task in BIGGEN_LLM_JUDGE_TASKS:
        return "llm_judge_task"
    return None


def load_biggen_instances(
    source: str | Path = BIGGEN_HUB_ID,
    split: str = "test",
    *,
    include_multilingual: bool = True,
    skip_llm_judge_tasks: bool = False,
) -> Loaded[BiGGenInstance]:
    """BiGGen Bench instances (765 in ``test``)."""
    label = _label(source)
    instances: list[BiGGenInstance] = []
    dropped: dict[str, int] = {}
    for i, row in enumerate(read_rows(source, split=split)):
        inst = _biggen_instance(row, f"{label}, row {i}")
        reason = _biggen_keep(inst.capability, inst.task, include_multilingual, skip_llm_judge_tasks)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        instances.append(inst)
    return Loaded(instances, label, dropped)


def load_biggen_human_eval(
    source: str | Path = BIGGEN_RESULTS_HUB_ID,
    split: str = "human_eval",
    *,
    include_multilingual: bool = False,
    skip_llm_judge_tasks: bool = False,
) -> Loaded[PointwiseItem]:
    """BiGGen-Bench-Results responses with human scores; unrated rows (-1) are dropped and counted.

    English only by default (the human study excluded ``multilingual``); ``skip_llm_judge_tasks``
    drops the 18 ``llm_judge_*`` instances, as the reference evaluator does for Prometheus judges.
    """
    label = _label(source)
    items: list[PointwiseItem] = []
    dropped: dict[str, int] = {}
    for i, row in enumerate(read_rows(source, split=split)):
        where = f"{label}, row {i}"
        inst = _biggen_instance(row, where)
        reason = _biggen_keep(inst.capability, inst.task, include_multilingual, skip_llm_judge_tasks)
        human = _int_score(_field(row, "human_score", where), "human_score", where, [-1, 1, 2, 3, 4, 5])
        if reason is None and human == -1:
            reason = "unrated"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        model_name = _text(row, "model_name", where)
        items.append(inst.item(_text(row, "response", where), model_name=model_name, gold_score=human))
    return Loaded(items, label, dropped)


# ---- Feedback Bench / Feedback-Collection -------------------------------------------------------


def _feedback_item(row: Mapping[str, Any], where: str, index: int) -> PointwiseItem:
    gold = _int_score(_field(row, "orig_score", where), "orig_score", where, range(1, 6))
    raw_id = row.get("__index_level_0__")
    return PointwiseItem(
        id=str(raw_id if raw_id is not None else index),
        instruction=_text(row, "orig_instruction", where),
        response=_text(row, "orig_response", where),
        rubric=_rubric_from_row(row, where, prefix="orig_"),
        reference_answer=_text(row, "orig_reference_answer", where, optional=True),
        gold_score=gold,
        metadata={
            "feedback": _text(row, "orig_feedback", where, optional=True),
            "target": _text(row, "output", where, optional=True),
        },
    )


def load_feedback_bench(
    source: str | Path = FEEDBACK_BENCH_HUB_ID, split: str = "train"
) -> Loaded[PointwiseItem]:
    """Feedback Bench (1,000 rows); gold = ``orig_score`` (stored as a string)."""
    label = _label(source)
    rows = read_rows(source, split=split)
    return Loaded([_feedback_item(r, f"{label}, row {i}", i) for i, r in enumerate(rows)], label)


def contamination_key(instruction: str, response: str) -> str:
    """Whitespace-insensitive key used to match training rows against benchmark rows."""
    return " ".join(instruction.split()) + "\x00" + " ".join(response.split())


def decontaminate(items: Iterable[PointwiseItem], against: Iterable[PointwiseItem]) -> tuple[list[PointwiseItem], int]:
    """Drop items whose instruction + response also appear in ``against``; return (kept, n_dropped)."""
    banned = {contamination_key(b.instruction, b.response) for b in against}
    kept: list[PointwiseItem] = []
    n_dropped = 0
    for item in items:
        if contamination_key(item.instruction, item.response) in banned:
            n_dropped += 1
        else:
            kept.append(item)
    return kept, n_dropped


def load_feedback_collection(
    source: str | Path = FEEDBACK_COLLECTION_HUB_ID,
    split: str = "train",
    *,
    decontaminate_against: str | Path | Sequence[PointwiseItem] | None = FEEDBACK_BENCH_HUB_ID,
    limit: int | None = None,
) -> Loaded[PointwiseItem]:
    """Feedback-Collection rows as pointwise items with the training target in ``metadata['target']``.

    Rows that also appear in Feedback Bench are dropped (counted as ``contaminated``): Feedback Bench
    is a split of this collection and the public collection still contains it.
    ``decontaminate_against=None`` disables this (not recommended).
    """
    label = _label(source)
    rows = read_rows(source, split=split)
    items = [_feedback_item(r, f"{label}, row {i}", i) for i, r in enumerate(rows)]
    dropped: dict[str, int] = {}
    if decontaminate_against is not None:
        bench = (
            load_feedback_bench(decontaminate_against).items
            if isinstance(decontaminate_against, (str, Path))
            else list(decontaminate_against)
        )
        items, n = decontaminate(items, bench)
        dropped["contaminated"] = n
    if limit is not None:
        items = items[:limit]
    return Loaded(items, label, dropped)


def load_preference_collection(
    source: str | Path = PREFERENCE_COLLECTION_HUB_ID, split: str = "train", *, limit: int | None = None
) -> Loaded[PairwiseItem]:
    """Preference-Collection as pairwise items; the original A/B order and target are in metadata."""
    label = _label(source)
    items: list[PairwiseItem] = []
    for i, row in enumerate(read_rows(source, split=split)):
        if limit is not None and len(items) >= limit:
            break
        where = f"{label}, row {i}"
        pref = _text(row, "orig_preference", where).strip().upper()
        if pref not in ("A", "B"):
            raise DataError(f"{where}: field 'orig_preference' must be 'A' or 'B', got {pref!r}")
        a, b = _text(row, "orig_response_A", where), _text(row, "orig_response_B", where)
        chosen, rejected = (a, b) if pref == "A" else (b, a)
        items.append(
            PairwiseItem(
                id=str(i),
                prompt=_text(row, "orig_instruction", where),
                chosen=chosen,
                rejected=rejected,
                subset="preference-collection",
                rubric=None,
                reference_answer=_text(row, "orig_reference_answer", where, optional=True),
                metadata={
                    "criteria": _text(row, "orig_criteria", where),
                    "preference": pref,
                    "target": _text(row, "output", where, optional=True),
                },
            )
        )
    return Loaded(items, label)


# ---- RewardBench --------------------------------------------------------------------------------


def load_rewardbench(
    source: str | Path = REWARDBENCH_HUB_ID,
    split: str = "filtered",
    *,
    subsets: Sequence[str] | None = None,
    sections: Sequence[str] | None = None,
) -> Loaded[PairwiseItem]:
    """RewardBench pairs with their section (Chat, Chat Hard, Safety, Reasoning, Prior Sets).

    ``subsets``/``sections`` keep only those; the rest is counted in ``dropped['filtered_out']``.
    """
    from .metrics import REWARDBENCH_SUBSET_SECTION

    label = _label(source)
    items: list[PairwiseItem] = []
    dropped: dict[str, int] = {}
    for i, row in enumerate(read_rows(source, split=split)):
        where = f"{label}, row {i}"
        subset = _text(row, "subset", where)
        section = REWARDBENCH_SUBSET_SECTION.get(subset)
        if section is None:
            raise DataError(f"{where}: field 'subset' has unknown RewardBench subset {subset!r}")
        if (subsets and subset not in subsets) or (sections and section not in sections):
            dropped["filtered_out"] = dropped.get("filtered_out", 0) + 1
            continue
        raw_id = _field(row, "id", where, optional=True)
        items.append(
            PairwiseItem(
                id=str(raw_id if raw_id is not None else i),
                prompt=_text(row, "prompt", where),
                chosen=_text(row, "chosen", where),
                rejected=_text(row, "rejected", where),
                subset=subset,
                section=section,
                metadata={
                    "chosen_model": row.get("chosen_model"),
                    "rejected_model": row.get("rejected_model"),
                },
            )
        )
    return Loaded(items, label, dropped)


# ---- custom pointwise data ----------------------------------------------------------------------


def load_custom_pointwise(
    source: str | Path,
    rubric: str | Path | Rubric | None = None,
    split: str = "train",
) -> Loaded[PointwiseItem]:
    """Your own items: ``instruction``, ``response``, optional ``reference_answer``, ``score``,
    ``id``, ``group``, and a per-row ``rubric`` object unless ``rubric`` is given for all rows."""
    label = _label(source)
    shared = get_rubric(rubric) if rubric is not None else None
    items: list[PointwiseItem] = []
    for i, row in enumerate(read_rows(source, split=split)):
        where = f"{label}, row {i}"
        if shared is not None:
            item_rubric = shared
        else:
            raw = _field(row, "rubric", where)
            try:
                item_rubric = Rubric.from_dict(raw, where=f"{where}, field 'rubric'")
            except RubricError as exc:
                raise DataError(str(exc)) from None
        gold = _field(row, "score", where, optional=True)
        if gold is not None:
            gold = _int_score(gold, "score", where, item_rubric.levels)
        group = _text(row, "group", where, optional=True)
        items.append(
            PointwiseItem(
                id=str(row.get("id", i)),
                instruction=_text(row, "instruction", where),
                response=_text(row, "response", where),
                rubric=item_rubric,
                reference_answer=_text(row, "reference_answer", where, optional=True),
                gold_score=gold,
                groups={"group": group} if group else {},
            )
        )
    return Loaded(items, label)


LOADERS: dict[str, Callable[..., Loaded[Any]]] = {
    "biggen": load_biggen_human_eval,
    "biggen_instances": load_biggen_instances,
    "feedback_bench": load_feedback_bench,
    "rewardbench": load_rewardbench,
    "feedback_collection": load_feedback_collection,
    "preference_collection": load_preference_collection,
    "custom": load_custom_pointwise,
}
