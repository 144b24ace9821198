"""Training inputs: load (decontaminated), split a held-out set, slice inputs per iteration, and
turn items into chat prompts and rationale targets."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..formats import absolute_prompt, format_judgment
from ..loaders import decontaminate, load_feedback_bench, load_feedback_collection
from ..parsing import parse_judgment
from ..records import DataError, PointwiseItem
from .config import DataConfig

Messages = list[dict[str, str]]


def load_pool(cfg: DataConfig) -> tuple[list[PointwiseItem], dict[str, int]]:
    """Training items (Feedback-Collection layout) with the benchmark rows removed."""
    loaded = load_feedback_collection(
        cfg.source, cfg.split, decontaminate_against=cfg.decontaminate_against, limit=cfg.limit
    )
    missing = [i for i, it in enumerate(loaded.items) if it.gold_score is None]
    if missing:
        raise DataError(f"{cfg.source}: item {loaded.items[missing[0]].id!r} has no gold score; training needs one")
    return list(loaded.items), dict(loaded.dropped)


def load_heldout(cfg: DataConfig, pool: Sequence[PointwiseItem]) -> tuple[list[PointwiseItem], list[PointwiseItem], int]:
    """``data.heldout_source`` (Feedback Bench layout) as the held-out split: (training pool without
    the rows that also appear in it, held-out items, number of training rows dropped)."""
    assert cfg.heldout_source is not None
    held = list(load_feedback_bench(cfg.heldout_source, cfg.heldout_split).items)
    kept, n = decontaminate(pool, held)
    return kept, held, n


def sft_and_iteration_pool(
    items: Sequence[PointwiseItem], sft_size: int | None, seed: int
) -> tuple[list[PointwiseItem], list[PointwiseItem]]:
    """(SFT items, iteration pool): every item for both when ``sft_size`` is None, else a seeded
    choice of ``sft_size`` items for SFT and the others for self-sampling (disjoint)."""
    if sft_size is None:
        return list(items), list(items)
    if sft_size >= len(items):
        raise DataError(f"data.sft_size={sft_size} leaves no inputs for the iterations (only {len(items)} training items)")
    order = list(range(len(items)))
    random.Random(f"{seed}:sft").shuffle(order)
    chosen = set(order[:sft_size])
    return [it for i, it in enumerate(items) if i in chosen], [it for i, it in enumerate(items) if i not in chosen]


def feedback_row(item: PointwiseItem) -> dict[str, Any]:
    """One row in the Feedback-Collection / Feedback Bench layout (``orig_score`` is a string, as
    upstream; ``__index_level_0__`` = the item id, so ids survive the round trip through the
    loaders)."""
    row: dict[str, Any] = {
        "orig_instruction": item.instruction,
        "orig_response": item.response,
        "orig_reference_answer": item.reference_answer or "",
        "orig_criteria": item.rubric.criteria,
    }
    for level, text in item.rubric.descriptions.items():
        row[f"orig_score{level}_description"] = text
    row["orig_score"] = None if item.gold_score is None else str(item.gold_score)
    row["orig_feedback"] = str(item.metadata.get("feedback") or "")
    row["instruction"] = absolute_prompt(item.instruction, item.response, item.rubric, item.reference_answer).user
    row["output"] = str(item.metadata.get("target") or "")
    row["__index_level_0__"] = item.id
    return row


def split_heldout(items: Sequence[PointwiseItem], size: int, seed: int) -> tuple[list[PointwiseItem], list[PointwiseItem]]:
    """Seeded split into (train, heldout); the held-out items never reach SFT or sampling."""
    if size >= len(items):
        raise DataError(f"data.heldout_size={size} leaves no training items (only {len(items)} loaded)")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    held = sorted(order[:size])
    rest = sorted(order[size:])
    return [items[i] for i in rest], [items[i] for i in held]


def check_pool_size(n_pool: int, cfg: DataConfig, iterations: Sequence[int], dropped: dict[str, int] | None = None) -> None:
    """Refuse, before any model loads, a pool too small for its held-out set and disjoint iteration
    inputs (``data.allow_reuse`` opts in to repeating inputs across iterations instead)."""
    need_train = max(1, sum(iterations))
    if cfg.heldout_size + need_train <= n_pool or (cfg.allow_reuse and cfg.heldout_size < n_pool):
        return
    limit = f" (data.limit={cfg.limit})" if cfg.limit is not None else ""
    gone = f", after dropping {dropped}" if dropped and any(dropped.values()) else ""
    ask = f"data.heldout_size={cfg.heldout_size}"
    if iterations:
        ask += f" + iterations={list(iterations)} (sum {sum(iterations)})"
    else:
        ask += " + at least 1 training item"
    hint = "" if cfg.allow_reuse or not iterations else ", or set data.allow_reuse=true to repeat inputs"
    raise DataError(
        f"{cfg.source}: {n_pool} usable items{limit}{gone} cannot cover {ask} without reusing items; "
        f"lower data.heldout_size or iterations, or use more data{hint}"
    )


def iteration_slices(n_items: int, counts: Sequence[int], seed: int, *, allow_reuse: bool = False) -> list[list[int]]:
    """Disjoint, seeded index slices of the training pool, one per iteration.

    Asking for more inputs than the pool holds is a DataError, unless ``allow_reuse``: then the
    slices wrap around with a fresh order, so inputs repeat across (never within) a pass.
    """
    if sum(counts) > n_items and not allow_reuse:
        raise DataError(
            f"iterations ask for {sum(counts)} inputs but the training pool has {n_items}; "
            "set data.allow_reuse=true to repeat inputs"
        )
    if counts and n_items < 1:
        raise DataError("the training pool is empty")
    out: list[list[int]] = []
    rng = random.Random(seed + 1)
    order = list(range(n_items))
    rng.shuffle(order)
    pos = 0
    for count in counts:
        chosen: list[int] = []
        while len(chosen) < count:
            if pos == len(order):
                rng.shuffle(order)
                pos = 0
            take = min(count - len(chosen), len(order) - pos)
            chosen += order[pos : pos + take]
            pos += take
        out.append(chosen)
    return out


def validation_split(
    train: Sequence[PointwiseItem],
    used: Iterable[PointwiseItem],
    size: int,
    seed: int,
) -> list[PointwiseItem]:
    """A seeded choice of ``size`` training items among those the run does not ``use`` (SFT and
    iteration inputs), so the validation gate never judges an item a judge was trained or sampled
    on. Too few unused items is a DataError before any model loads."""
    if size <= 0:
        return []
    used_ids = {it.id for it in used}
    free = [it for it in train if it.id not in used_ids]
    if len(free) < size:
        raise DataError(
            f"validation.size={size} needs that many training items outside the SFT share and the iteration "
            f"inputs, but only {len(free)} are left; lower validation.size or iterations, set data.sft_size, "
            "or use more data"
        )
    order = list(range(len(free)))
    random.Random(f"{seed}:validation").shuffle(order)
    return [free[i] for i in sorted(order[:size])]


def judge_messages(item: PointwiseItem, use_reference: bool = True) -> Messages:
    prompt = absolute_prompt(
        item.instruction, item.response, item.rubric, item.reference_answer if use_reference else None
    )
    return prompt.messages()


def sft_target(item: PointwiseItem) -> str:
    """``rationale [RESULT] gold`` from the row's ``output`` (or ``orig_feedback``)."""
    raw = item.metadata.get("target") or item.metadata.get("feedback")
    if not raw or not str(raw).strip():
        raise DataError(f"item {item.id}: no target rationale ('output' or 'orig_feedback')")
    judgment = parse_judgment(str(raw), scale=item.rubric.scale)
    rationale = judgment.rationale if judgment.ok else str(raw).strip()
    if judgment.ok and judgment.score != item.gold_score:
        raise DataError(
            f"item {item.id}: target says [RESULT] {judgment.score} but orig_score is {item.gold_score}"
        )
    return format_judgment(rationale, int(item.gold_score))  # type: ignore[arg-type]


# ---- JSON lines -------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)  # atomic: a killed run never leaves a half-written file under the real name
    return n


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:  # binary: a stray non-UTF-8 byte is reported with its line
        for lineno, raw in enumerate(fh, start=1):
            if raw.strip():
                try:
                    yield json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise DataError(f"{path}, line {lineno}: not valid UTF-8") from None
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}, line {lineno}: invalid JSON ({exc.msg})") from None
