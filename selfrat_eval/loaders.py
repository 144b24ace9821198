"""Benchmark loaders: Hugging Face Hub ids by default, or local files/dirs in the same layout.

Every loader validates rows and raises :class:`DataError` naming the source, the row and the
field, on one line: ``<file>, row N: ...`` with N counted from 1 over the data rows, or
``<file>, line N: ...`` for a raw line that cannot be read (bad JSON, not UTF-8). Rows that are
dropped on purpose (unrated, multilingual, contaminated...) are counted in ``Loaded.dropped``; the
training collections also skip and count malformed rows (``malformed``) unless ``strict=True``.
Item ids follow one rule everywhere: they compare as text and a repeat is a DataError naming both rows.
"""

from __future__ import annotations

import codecs
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters (pyarrow's span lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _find_split_file(directory: Path, split: str) -> list[Path]:
    try:
        candidates = sorted(directory.rglob("*"))
    except OSError as exc:
        raise DataError(f"{directory}: cannot list the directory ({_one_line(exc)})") from None
    files = [p for p in candidates if p.suffix in _DATA_SUFFIXES and p.is_file()]
    named = [p for p in files if p.stem == split or p.stem.startswith(f"{split}-")]
    if named:
        return named
    if len(files) == 1:
        return files
    return []


def _json_line(path: Path, raw: bytes, lineno: int) -> dict[str, Any] | DataError:
    """One JSON-lines record, or the DataError (returned, not raised) that names file and line."""
    where = f"{path}, line {lineno}"
    if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DataError(f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return DataError(f"{where}: invalid JSON ({exc.msg}, column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        return DataError(f"{where}: invalid JSON ({_one_line(exc, 120)})")
    if not isinstance(row, dict):
        return DataError(f"{where}: expected a JSON object per line, got {type(row).__name__}")
    return row


def _is_json_array(path: Path) -> bool:
    """``.json`` holds either a list of objects or, as Hugging Face writes it, JSON lines."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def _json_array_rows(path: Path) -> list[dict[str, Any] | DataError]:
    """The objects of a JSON list; an element that is not an object becomes a DataError naming it."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: invalid JSON ({_one_line(exc, 120)})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    return [
        row if isinstance(row, dict) else DataError(f"{path}, row {n}: expected a JSON object, got {type(row).__name__}")
        for n, row in enumerate(data, start=1)
    ]


def _read_json_array(path: Path) -> list[dict[str, Any]]:
    rows = _json_array_rows(path)
    for row in rows:
        if isinstance(row, DataError):
            raise row
    return rows  # type: ignore[return-value]


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            row = _json_line(path, raw, lineno)
            if isinstance(row, DataError):
                raise row
            rows.append(row)
    return rows


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    """datasets logs its own multi-line error before raising; ours names the file and line."""
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_local_dataset(files: Sequence[Path]) -> Any:
    """A memory-mapped Arrow dataset of local files (datasets caches the conversion)."""
    import datasets

    builder = _DATA_SUFFIXES[files[0].suffix]
    with _quiet_datasets():
        return datasets.load_dataset(builder, data_files=[str(f) for f in files], split="train")


def _read_local_files(files: Sequence[Path]) -> list[dict[str, Any]]:
    """JSON is read with the json module: exact types (Arrow would turn date-like text into
    timestamps) and errors that name the line; parquet and csv go through datasets."""
    try:
        if files[0].suffix in (".json", ".jsonl"):
            rows: list[dict[str, Any]] = []
            for f in files:
                rows.extend(_read_json_array(f) if _is_json_array(f) else _read_json_lines(f))
            return rows
        try:
            return _load_local_dataset(files).to_list()
        except Exception as exc:  # noqa: BLE001 - any reader failure becomes a DataError naming the file
            raise DataError(f"{files[0]}: cannot read {files[0].suffix[1:]} data ({_one_line(exc)})") from None
    except OSError as exc:
        raise DataError(f"{files[0]}: cannot read the file ({_one_line(exc)})") from None


def _local_files(source: str | Path, split: str) -> list[Path] | None:
    """The local data files of ``source``, or None when it names a Hub dataset."""
    path = Path(source)
    if path.is_file():
        if path.suffix not in _DATA_SUFFIXES:
            raise DataError(f"{path}: unsupported file type (use .jsonl, .json, .parquet or .csv)")
        return [path]
    if path.is_dir():
        files = _find_split_file(path, split)
        if not files:
            raise DataError(f"{path}: no data file for split {split!r} (expected {split}.jsonl etc.)")
        return files
    if str(source).startswith((".", "/", "~")) or Path(str(source)).suffix in _DATA_SUFFIXES:
        raise DataError(f"{source}: file or directory not found")
    return None


def _load_hub_dataset(source: str | Path, split: str, config: str | None = None) -> Any:
    import datasets

    try:
        return datasets.load_dataset(str(source), config, split=split)
    except Exception as exc:  # noqa: BLE001 - offline or missing: say how to use local files
        raise DataError(
            f"cannot load dataset {source!r} split {split!r} from the Hugging Face Hub ({_one_line(exc)}). "
            "Offline? Pass a local file or directory in the same layout instead."
        ) from None


def read_rows(source: str | Path, *, split: str, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a local file, a local dir (split file or hub snapshot), or a Hub dataset id."""
    files = _local_files(source, split)
    if files is not None:
        return _read_local_files(files)
    return _load_hub_dataset(source, split, config).to_list()


# ---- lazy tables: large collections are sliced before any row becomes a Python object -----------

Row = dict[str, Any] | DataError  # a row, or why it could not be read (counted or raised by the caller)


@dataclass
class RowTable:
    """Rows addressed by 0-based index and materialised only when fetched.

    Backed by a memory-mapped Arrow dataset (datasets) or, for a JSON-lines file Arrow cannot or
    must not read (a malformed or non-object line, mixed types, date-like text), by an index of
    line offsets: either way memory stays flat however large the file, and a broken row costs
    only that row. (A JSON list is the exception: it is parsed whole.)
    """

    label: str
    n_rows: int
    fetch: Callable[[Sequence[int]], list[Row]]

    def __len__(self) -> int:
        return self.n_rows


def _arrow_table(ds: Any, label: str, columns: Sequence[str] = ()) -> RowTable:
    n_rows = len(ds)  # before selecting: a table left with no columns reports no rows
    if columns:  # convert only what the loader reads
        ds = ds.select_columns([c for c in ds.column_names if c in set(columns)])

    def fetch(indices: Sequence[int]) -> list[Row]:
        if not indices or not ds.column_names:  # no column the loader reads: rows lack every field
            return [{} for _ in indices]
        try:
            batch = ds[list(indices)]
        except UnicodeDecodeError:
            # Arrow's JSON reader stores invalid UTF-8 as is and fails when it is read: find the row.
            if len(indices) == 1:
                return [DataError(f"{label}, row {indices[0] + 1}: text is not valid UTF-8")]
            return [row for i in indices for row in fetch([i])]
        names = list(batch)
        return [dict(zip(names, values, strict=True)) for values in zip(*batch.values(), strict=True)]

    return RowTable(label, n_rows, fetch)


@dataclass
class _LineIndex:
    """Byte offset and line number of every non-blank line of JSON-lines files, from one pass."""

    files: Sequence[Path]
    entries: list[tuple[int, int, int]]  # (file number, byte offset, 1-based line number)
    all_objects: bool  # every line starts with "{" (what Arrow's JSON reader may be given)

    @classmethod
    def scan(cls, files: Sequence[Path]) -> _LineIndex:
        entries: list[tuple[int, int, int]] = []
        all_objects = True
        for k, f in enumerate(files):
            with f.open("rb") as fh:
                offset = 0
                for lineno, raw in enumerate(fh, start=1):
                    if raw[:1] == b"{":
                        entries.append((k, offset, lineno))
                    elif raw.strip():
                        entries.append((k, offset, lineno))
                        head = raw.lstrip()
                        if lineno == 1 and head.startswith(b"\xef\xbb\xbf"):
                            head = head[3:].lstrip()
                        all_objects = all_objects and head[:1] == b"{"
                    offset += len(raw)
        return cls(files, entries, all_objects)

    def table(self, label: str) -> RowTable:
        """Rows parsed one line at a time: a fetch seeks to each line and parses it alone."""

        def fetch(indices: Sequence[int]) -> list[Row]:
            handles = [f.open("rb") for f in self.files]
            try:
                out: list[Row] = []
                for i in indices:
                    k, offset, lineno = self.entries[i]
                    handles[k].seek(offset)
                    out.append(_json_line(self.files[k], handles[k].readline(), lineno))
                return out
            finally:
                for h in handles:
                    h.close()

        return RowTable(label, len(self.entries), fetch)


def _arrow_readable(ds: Any, text_columns: Sequence[str]) -> bool:
    """Arrow infers types: text that looks like a date becomes a timestamp. Such a table is not
    used for the columns that must stay text."""
    import datasets

    for name in text_columns:
        feature = ds.features.get(name)
        if feature is not None and not (
            isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string", "null")
        ):
            return False
    return True


def open_table(
    source: str | Path,
    *,
    split: str,
    columns: Sequence[str] = (),
    text_columns: Sequence[str] = (),
    config: str | None = None,
) -> RowTable:
    """A :class:`RowTable` over a local file/dir or a Hub dataset; nothing is materialised yet.

    ``columns`` are the fields the caller reads (the others are never converted); ``text_columns``
    must come out as text. Local JSON lines go through Arrow (datasets, memory-mapped and cached)
    only when every line is a JSON object: pyarrow's JSON reader crashes the process on a ``null``
    line (apache/arrow#47409); other files use the exact line reader. A JSON array is parsed whole.
    """
    label = _label(source)
    files = _local_files(source, split)
    if files is None:
        return _arrow_table(_load_hub_dataset(source, split, config), label, columns)
    if all(f.suffix in (".json", ".jsonl") for f in files):
        try:
            if any(map(_is_json_array, files)):  # parsed whole: memory grows with the file
                rows = [row for f in files for row in _json_array_rows(f)]
                return RowTable(label, len(rows), lambda idx: [rows[i] for i in idx])
            lines = _LineIndex.scan(files)
        except OSError as exc:
            raise DataError(f"{files[0]}: cannot read the file ({_one_line(exc)})") from None
        if not lines.all_objects:
            return lines.table(label)
        try:
            ds = _load_local_dataset(files)
        except Exception:  # noqa: BLE001 - bad JSON, mixed types: the line reader names the line
            return lines.table(label)
        return _arrow_table(ds, label, columns) if _arrow_readable(ds, text_columns) else lines.table(label)
    try:
        ds = _load_local_dataset(files)
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a DataError naming the file
        raise DataError(f"{files[0]}: cannot read {files[0].suffix[1:]} data ({_one_line(exc)})") from None
    return _arrow_table(ds, label, columns)


def _row_order(n_rows: int, shuffle: bool, seed: int) -> Sequence[int]:
    if not shuffle:
        return range(n_rows)
    import numpy as np

    return np.random.default_rng(seed).permutation(n_rows).tolist()


def _scan(
    table: RowTable,
    make: Callable[[Mapping[str, Any], str, int], T],
    *,
    limit: int | None,
    shuffle: bool,
    seed: int,
    strict: bool,
    skip: Callable[[T], str | None] = lambda _: None,
    batch_size: int = 512,
) -> tuple[list[tuple[int, T]], dict[str, int]]:
    """Walk rows in (optionally shuffled) order, fetching a batch at a time, until ``limit`` items.

    Only the rows walked are validated. A malformed row raises in ``strict`` mode and is otherwise
    skipped and counted as ``malformed``; ``skip`` names other reasons to drop an item.
    Returns ``[(1-based row number, item)]`` and the drop counts.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    order = _row_order(len(table), shuffle, seed)
    kept: list[tuple[int, T]] = []
    dropped: dict[str, int] = {}
    for start in range(0, len(order), batch_size):
        if limit is not None and len(kept) >= limit:
            break
        indices = list(order[start : start + batch_size])
        for i, row in zip(indices, table.fetch(indices), strict=True):
            if limit is not None and len(kept) >= limit:
                break
            try:
                if isinstance(row, DataError):
                    raise row
                item = make(row, f"{table.label}, row {i + 1}", i)
            except DataError:
                if strict:
                    raise
                dropped["malformed"] = dropped.get("malformed", 0) + 1
                continue
            reason = skip(item)
            if reason:
                dropped[reason] = dropped.get(reason, 0) + 1
                continue
            kept.append((i + 1, item))
    return kept, dropped


class _UniqueIds:
    """The one id rule of every loader: ids compare as text (``17`` and ``"17"`` are the same
    id) and a repeat is a DataError that names the file and both rows."""

    def __init__(self, label: str, what: str = "item id") -> None:
        self.label = label
        self.what = what
        self.first_row: dict[str, int] = {}

    def add(self, key: object, row: int) -> None:
        text = str(key)
        first = self.first_row.setdefault(text, row)
        if first != row:
            raise DataError(f"{self.label}: duplicate {self.what} {_show(text)} in row {first} and row {row}")


def _check_unique(label: str, rows_and_items: Iterable[tuple[int, Any]], what: str = "item id") -> None:
    ids = _UniqueIds(label, what)
    for row, item in rows_and_items:
        ids.add(item.id, row)


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


def _show(value: Any, limit: int = 60) -> str:
    """``repr`` for messages: one line, cut short, and safe for huge integers."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's 4,300-digit str() limit
        return f"<integer with more than {sys.get_int_max_str_digits()} digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int_score(value: Any, name: str, where: str, allowed: Iterable[int]) -> int:
    try:
        as_float = float(str(value).strip())
    except ValueError:
        raise DataError(f"{where}: field {name!r} is not a number: {_show(value)}") from None
    if not as_float.is_integer() or int(as_float) not in set(allowed):
        raise DataError(f"{where}: field {name!r} has out-of-range value {_show(value)}")
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
        except (ValueError, RecursionError):
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
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{where}: field 'instance_idx' is not an integer: {_show(idx)}") from None
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
    ids = _UniqueIds(label)
    for n, row in enumerate(read_rows(source, split=split), start=1):
        inst = _biggen_instance(row, f"{label}, row {n}")
        reason = _biggen_keep(inst.capability, inst.task, include_multilingual, skip_llm_judge_tasks)
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        ids.add(inst.id, n)
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
    Whether (``id``, ``model_name``) is unique in the published split is unverified: a repeated
    pair among the kept rows is a DataError naming both rows.
    """
    label = _label(source)
    items: list[PointwiseItem] = []
    dropped: dict[str, int] = {}
    pairs = _UniqueIds(label, "(id, model_name)")
    for n, row in enumerate(read_rows(source, split=split), start=1):
        where = f"{label}, row {n}"
        inst = _biggen_instance(row, where)
        reason = _biggen_keep(inst.capability, inst.task, include_multilingual, skip_llm_judge_tasks)
        human = _int_score(_field(row, "human_score", where), "human_score", where, [-1, 1, 2, 3, 4, 5])
        if reason is None and human == -1:
            reason = "unrated"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        model_name = _text(row, "model_name", where)
        item = inst.item(_text(row, "response", where), model_name=model_name, gold_score=human)
        pairs.add(item.id, n)  # the item id is "id::model_name"
        items.append(item)
    return Loaded(items, label, dropped)


# ---- Feedback Bench / Feedback-Collection -------------------------------------------------------


def feedback_row_id(row: Mapping[str, Any], index: int) -> str:
    """The item id of a Feedback Bench / Feedback-Collection row: its pandas index column, else its
    position in the file."""
    raw_id = row.get("__index_level_0__")
    return str(raw_id if raw_id is not None else index)


def _feedback_item(row: Mapping[str, Any], where: str, index: int) -> PointwiseItem:
    gold = _int_score(_field(row, "orig_score", where), "orig_score", where, range(1, 6))
    return PointwiseItem(
        id=feedback_row_id(row, index),
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
    items = [(n, _feedback_item(r, f"{label}, row {n}", n - 1)) for n, r in enumerate(rows, start=1)]
    _check_unique(label, items)
    return Loaded([item for _, item in items], label)


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


# Columns that must stay text: Arrow tables that inferred another type for them are not used.
_FEEDBACK_TEXT_COLUMNS = (
    "orig_instruction",
    "orig_response",
    "orig_reference_answer",
    "orig_criteria",
    *(f"orig_score{k}_description" for k in range(1, 6)),
    "orig_feedback",
    "output",
)
_PREFERENCE_TEXT_COLUMNS = (
    "orig_instruction",
    "orig_response_A",
    "orig_response_B",
    "orig_preference",
    "orig_criteria",
    "orig_reference_answer",
    "output",
)


def _banned_keys(against: str | Path | Sequence[PointwiseItem]) -> set[str]:
    bench = load_feedback_bench(against).items if isinstance(against, (str, Path)) else list(against)
    return {contamination_key(b.instruction, b.response) for b in bench}


def load_feedback_collection(
    source: str | Path = FEEDBACK_COLLECTION_HUB_ID,
    split: str = "train",
    *,
    decontaminate_against: str | Path | Sequence[PointwiseItem] | None = FEEDBACK_BENCH_HUB_ID,
    limit: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    strict: bool = False,
) -> Loaded[PointwiseItem]:
    """Feedback-Collection rows as pointwise items with the training target in ``metadata['target']``.

    Rows that also appear in Feedback Bench are dropped (counted as ``contaminated``): Feedback Bench
    is a split of this collection and the public collection still contains it.
    ``decontaminate_against=None`` disables this (not recommended).

    The collection (~100k rows, 1 GB) is read as a memory-mapped Arrow table: rows are walked in
    file order (or a seeded random order with ``shuffle=True``) and only the rows walked until
    ``limit`` items are kept are turned into Python objects and validated, so ``limit=400`` reads
    about 400 rows. Drop counts (``contaminated``, ``malformed``) cover the rows walked.
    A malformed row (bad JSON, missing or invalid field) is skipped and counted as ``malformed``;
    ``strict=True`` raises a DataError naming the file, row and field instead.
    """
    label = _label(source)
    banned = _banned_keys(decontaminate_against) if decontaminate_against is not None else None
    table = open_table(
        source, split=split, columns=(*_FEEDBACK_TEXT_COLUMNS, "orig_score", "__index_level_0__"),
        text_columns=_FEEDBACK_TEXT_COLUMNS,
    )

    def contaminated(item: PointwiseItem) -> str | None:
        hit = banned is not None and contamination_key(item.instruction, item.response) in banned
        return "contaminated" if hit else None

    kept, counts = _scan(
        table, _feedback_item, limit=limit, shuffle=shuffle, seed=seed, strict=strict, skip=contaminated
    )
    _check_unique(label, kept)
    dropped = {"contaminated": counts.pop("contaminated", 0)} if banned is not None else {}
    dropped.update(counts)
    return Loaded([item for _, item in kept], label, dropped)


def _preference_item(row: Mapping[str, Any], where: str, index: int) -> PairwiseItem:
    pref = _text(row, "orig_preference", where).strip().upper()
    if pref not in ("A", "B"):
        raise DataError(f"{where}: field 'orig_preference' must be 'A' or 'B', got {_show(pref)}")
    a, b = _text(row, "orig_response_A", where), _text(row, "orig_response_B", where)
    chosen, rejected = (a, b) if pref == "A" else (b, a)
    return PairwiseItem(
        id=str(index),
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


def load_preference_collection(
    source: str | Path = PREFERENCE_COLLECTION_HUB_ID,
    split: str = "train",
    *,
    limit: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    strict: bool = False,
) -> Loaded[PairwiseItem]:
    """Preference-Collection as pairwise items; the original A/B order and target are in metadata.

    Read lazily like :func:`load_feedback_collection` (same ``limit``/``shuffle``/``seed``/``strict``
    semantics; malformed rows are counted in ``dropped['malformed']``). Item ids are 0-based row indices.
    """
    label = _label(source)
    table = open_table(source, split=split, columns=_PREFERENCE_TEXT_COLUMNS, text_columns=_PREFERENCE_TEXT_COLUMNS)
    kept, dropped = _scan(table, _preference_item, limit=limit, shuffle=shuffle, seed=seed, strict=strict)
    _check_unique(label, kept)
    return Loaded([item for _, item in kept], label, dropped)


# ---- RewardBench --------------------------------------------------------------------------------


def _known_names(label: str, kind: str, given: Sequence[str] | str | None, valid: Iterable[str]) -> Sequence[str] | None:
    if not given:
        return None
    names = [given] if isinstance(given, str) else list(given)
    valid = list(valid)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise DataError(
            f"{label}: unknown RewardBench {kind}(s) {unknown}; valid {kind}s: {', '.join(valid)}"
        )
    return names


def load_rewardbench(
    source: str | Path = REWARDBENCH_HUB_ID,
    split: str = "filtered",
    *,
    subsets: Sequence[str] | None = None,
    sections: Sequence[str] | None = None,
) -> Loaded[PairwiseItem]:
    """RewardBench pairs with their section (Chat, Chat Hard, Safety, Reasoning, Prior Sets).

    ``subsets``/``sections`` keep only those; the rest is counted in ``dropped['filtered_out']``.
    Unknown names are a DataError listing the valid ones (a typo would otherwise drop everything).
    """
    from .metrics import REWARDBENCH_SECTIONS, REWARDBENCH_SUBSET_SECTION

    label = _label(source)
    subsets = _known_names(label, "subset", subsets, REWARDBENCH_SUBSET_SECTION)
    sections = _known_names(label, "section", sections, REWARDBENCH_SECTIONS)
    items: list[PairwiseItem] = []
    dropped: dict[str, int] = {}
    ids = _UniqueIds(label)
    for n, row in enumerate(read_rows(source, split=split), start=1):
        i = n - 1
        where = f"{label}, row {n}"
        subset = _text(row, "subset", where)
        section = REWARDBENCH_SUBSET_SECTION.get(subset)
        if section is None:
            raise DataError(f"{where}: field 'subset' has unknown RewardBench subset {_show(subset)}")
        if (subsets and subset not in subsets) or (sections and section not in sections):
            dropped["filtered_out"] = dropped.get("filtered_out", 0) + 1
            continue
        raw_id = _field(row, "id", where, optional=True)
        ids.add(raw_id if raw_id is not None else i, n)
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
    ids = _UniqueIds(label)
    for n, row in enumerate(read_rows(source, split=split), start=1):
        i = n - 1
        where = f"{label}, row {n}"
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
        raw_id = _field(row, "id", where, optional=True)
        ids.add(raw_id if raw_id is not None else i, n)
        items.append(
            PointwiseItem(
                id=str(raw_id if raw_id is not None else i),
                instruction=_text(row, "instruction", where),
                response=_text(row, "response", where),
                rubric=item_rubric,
                reference_answer=_text(row, "reference_answer", where, optional=True),
                gold_score=gold,
                groups={"group": group} if group else {},
            )
        )
    return Loaded(items, label)

