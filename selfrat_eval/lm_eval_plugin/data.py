"""Benchmark rows -> lm-eval docs for the ``selfrat_*`` tasks.

Called by lm-eval as the tasks' ``custom_dataset`` with the task metadata as keyword arguments
(lm-eval 0.4.13 passes ``model_args | --metadata | the YAML metadata``). Data source, in order:
``<family>_path`` (e.g. ``rewardbench_path``), then ``data_path``, then the Hub id. A path may be
a file (.jsonl/.json/.parquet/.csv) or a directory in the Hub layout.

Every doc renders its judge prompt(s) with ``selfrat_eval.formats`` so that lm-eval, Inspect and
the native runner see identical prompts. A doc holds one prompt (pointwise), or two (RewardBench:
chosen and rejected graded separately, or the A/B prompt in both orders).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..formats import JudgePrompt, absolute_prompt, relative_prompt
from ..loaders import (
    BIGGEN_RESULTS_HUB_ID,
    FEEDBACK_BENCH_HUB_ID,
    REWARDBENCH_HUB_ID,
    load_biggen_human_eval,
    load_feedback_bench,
    load_rewardbench,
)
from ..records import DataError, PairwiseItem, PointwiseItem
from ..rubric import get_rubric

log = logging.getLogger(__name__)

FAMILIES = ("biggen", "feedback_bench", "rewardbench")
KINDS = ("pointwise", "pair_pointwise", "pair_relative")
VARIANTS = ("single", "sc", "bon")
DEFAULT_PAIR_RUBRIC = "helpfulness"


@dataclass(frozen=True)
class DocOptions:
    """Task options read from the metadata (YAML ``metadata:`` or ``--metadata``)."""

    family: str
    kind: str
    variant: str = "single"
    source: str | None = None
    split: str | None = None
    subsets: tuple[str, ...] | None = None
    sections: tuple[str, ...] | None = None
    pair_rubric: str = DEFAULT_PAIR_RUBRIC
    include_multilingual: bool = False
    skip_llm_judge_tasks: bool = False
    use_reference: bool = True

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> DocOptions:
        family = meta.get("selfrat_family")
        kind = meta.get("selfrat_kind")
        variant = meta.get("selfrat_variant", "single")
        if family not in FAMILIES or kind not in KINDS or variant not in VARIANTS:
            raise ValueError(
                "selfrat task metadata needs selfrat_family in "
                f"{FAMILIES}, selfrat_kind in {KINDS}, selfrat_variant in {VARIANTS}; got "
                f"{family!r}, {kind!r}, {variant!r}"
            )
        source = meta.get(f"{family}_path") or meta.get("data_path")
        return cls(
            family=family,
            kind=kind,
            variant=variant,
            source=str(source) if source else None,
            split=meta.get(f"{family}_split") or meta.get("split"),
            subsets=_str_tuple(meta.get("subsets"), "subsets"),
            sections=_str_tuple(meta.get("sections"), "sections"),
            pair_rubric=str(meta.get("pair_rubric", DEFAULT_PAIR_RUBRIC)),
            include_multilingual=_flag(meta.get("include_multilingual", False), "include_multilingual"),
            skip_llm_judge_tasks=_flag(meta.get("skip_llm_judge_tasks", False), "skip_llm_judge_tasks"),
            use_reference=_flag(meta.get("use_reference", True), "use_reference"),
        )


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"metadata {name!r} must be true or false, got {value!r}")


def _str_tuple(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value.split(",")
        value = parsed if isinstance(parsed, list) else [parsed]
    if not isinstance(value, Sequence):
        raise ValueError(f"metadata {name!r} must be a list or a comma-separated string, got {value!r}")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _prompt_dict(prompt: JudgePrompt) -> dict[str, str]:
    return {"system": prompt.system, "user": prompt.user}


def _base_doc(
    opts: DocOptions, item_id: str, prompts: list[JudgePrompt], scale: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": item_id,
        "kind": opts.kind,
        "variant": opts.variant,
        "mode": prompts[0].mode,
        "scale_low": scale[0],
        "scale_high": scale[1],
        "prompts": [_prompt_dict(p) for p in prompts],
        # lm-eval renders description/doc_to_text from these two fields (first prompt); the task
        # class swaps them per prompt when a doc holds two.
        "judge_system": prompts[0].system,
        "judge_user": prompts[0].user,
        "target": "",
        "gold": None,
        "group": "",
        "subset": "",
    }


def pointwise_doc(item: PointwiseItem, opts: DocOptions, group_key: str | None) -> dict[str, Any]:
    if item.gold_score is None:
        raise DataError(f"{item.id}: pointwise item has no gold score")
    ref = item.reference_answer if opts.use_reference else None
    prompt = absolute_prompt(item.instruction, item.response, item.rubric, ref)
    doc = _base_doc(opts, item.id, [prompt], item.rubric.scale)
    doc["gold"] = float(item.gold_score)
    doc["group"] = str(item.groups.get(group_key, "")) if group_key else ""
    return doc


def pair_docs(item: PairwiseItem, opts: DocOptions) -> dict[str, Any]:
    rubric = item.rubric or get_rubric(opts.pair_rubric)
    ref = item.reference_answer if opts.use_reference else None
    if opts.kind == "pair_pointwise":
        prompts = [
            absolute_prompt(item.prompt, item.chosen, rubric, ref),
            absolute_prompt(item.prompt, item.rejected, rubric, ref),
        ]
    else:
        # Both orders: chosen shown as A, then chosen shown as B (position bias controlled).
        prompts = [
            relative_prompt(item.prompt, item.chosen, item.rejected, rubric, ref),
            relative_prompt(item.prompt, item.rejected, item.chosen, rubric, ref),
        ]
    doc = _base_doc(opts, item.id, prompts, rubric.scale)
    doc["subset"] = item.subset
    return doc


def build_docs(opts: DocOptions) -> tuple[list[dict[str, Any]], str, dict[str, int]]:
    """Docs for one task, the data source used and what the loader dropped on purpose."""
    if opts.family == "biggen":
        loaded = load_biggen_human_eval(
            opts.source or BIGGEN_RESULTS_HUB_ID,
            opts.split or "human_eval",
            include_multilingual=opts.include_multilingual,
            skip_llm_judge_tasks=opts.skip_llm_judge_tasks,
        )
        docs = [pointwise_doc(item, opts, "capability") for item in loaded]
    elif opts.family == "feedback_bench":
        loaded = load_feedback_bench(opts.source or FEEDBACK_BENCH_HUB_ID, opts.split or "train")
        docs = [pointwise_doc(item, opts, None) for item in loaded]
    else:
        loaded = load_rewardbench(
            opts.source or REWARDBENCH_HUB_ID,
            opts.split or "filtered",
            subsets=opts.subsets,
            sections=opts.sections,
        )
        docs = [pair_docs(item, opts) for item in loaded]
    if not docs:
        raise DataError(f"{loaded.source}: no items left for {opts.family} (dropped: {loaded.dropped})")
    return docs, loaded.source, dict(loaded.dropped)


def load_dataset(**metadata: Any) -> Any:
    """lm-eval ``custom_dataset``: a ``DatasetDict`` with one ``test`` split of docs."""
    import datasets

    opts = DocOptions.from_metadata(metadata)
    docs, source, dropped = build_docs(opts)
    log.info("selfrat %s: %d docs from %s (dropped on purpose: %s)", opts.family, len(docs), source, dropped)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
