"""The lm-eval task class behind every ``selfrat_*`` YAML.

On top of lm-eval's ``ConfigurableTask`` it (1) builds the metric list from
:func:`selfrat_eval.lm_eval_plugin.scoring.metric_list` (nothing duplicated in YAML), (2) sends one
generation request per judge prompt of a doc (RewardBench docs hold two), rendered the lm-eval
way (``description`` = the judge's system message, so ``--system_instruction`` and
``--apply_chat_template`` behave as for any task), and (3) for ``*_sc`` tasks takes N from the
``n_samples`` metadata (``--metadata '{"n_samples": 8}'``).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from .scoring import doc_record, metric_list


def _meta(config: dict[str, Any]) -> dict[str, Any]:
    meta = config.get("metadata") or {}
    return dict(meta) if isinstance(meta, dict) else {}


class SelfratJudgeTask(ConfigurableTask):
    """A judge-evaluation task: prompts from the doc, metrics from selfrat_eval."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        if config is None:
            raise ValueError("SelfratJudgeTask needs its YAML config")
        config = dict(config)
        config.pop("class", None)
        meta = _meta(config)
        family, kind = meta.get("selfrat_family"), meta.get("selfrat_kind")
        variant = meta.get("selfrat_variant", "single")
        config["metric_list"] = metric_list(family, kind, variant)
        # Marks that results are processed in Python (lm-eval then skips its metric-name lookups).
        config["process_results"] = doc_record
        if variant == "sc" and meta.get("n_samples") is not None:
            n = int(meta["n_samples"])
            if n < 1:
                raise ValueError(f"{config.get('task')}: n_samples must be >= 1, got {n}")
            config["repeats"] = n
        self._require_consistent = str(meta.get("require_consistent", True)).lower() not in (
            "0",
            "false",
            "no",
        )
        super().__init__(config=config)
        self._prune_metrics(family, kind, variant)

    def _prune_metrics(self, family: str, kind: str, variant: str) -> None:
        """Drop per-capability/per-subset/per-section metrics with no item in the data."""
        docs = self.dataset[self.config.test_split]
        if kind == "pointwise":
            present = {"groups": set(docs["group"]) if family == "biggen" else None}
        else:
            present = {"subsets": set(docs["subset"])}
        keep = metric_list(family, kind, variant, **present)
        names = {m["metric"] for m in keep}
        for table in (
            self._metric_fn_list,
            self._metric_fn_kwargs,
            self._aggregation_list,
            self._higher_is_better,
        ):
            for name in [n for n in table if n not in names]:
                del table[name]
        self._config.metric_list = keep

    # One request per judge prompt, rendered by lm-eval itself from description (= the judge's
    # system message) and doc_to_text (= the user message). In plain-text mode lm-eval joins the
    # system text and the prompt with no separator, so the system text gets the blank line that
    # JudgePrompt.text() puts there; with a chat template it is the system turn as is.
    def fewshot_context(self, doc: dict, num_fewshot: int, **kwargs: Any) -> str | list[str]:  # type: ignore[override]
        prompts = doc.get("prompts") or [{"system": doc["judge_system"], "user": doc["judge_user"]}]
        sep = "" if kwargs.get("apply_chat_template") else "\n\n"
        contexts = [
            super(SelfratJudgeTask, self).fewshot_context(
                {**doc, "judge_system": p["system"] + sep if p["system"] else "", "judge_user": p["user"]},
                num_fewshot,
                **kwargs,
            )
            for p in prompts
        ]
        return contexts[0] if len(contexts) == 1 else contexts

    def construct_requests(self, doc: dict, ctx: str | list[str], **kwargs: Any) -> list[Instance] | Instance:
        if isinstance(ctx, str):
            return super().construct_requests(doc, ctx, **kwargs)
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        return [
            Instance(
                request_type="generate_until",
                doc=doc,
                arguments=(c, deepcopy(self.config.generation_kwargs)),
                idx=i,
                **kwargs,
            )
            for i, c in enumerate(ctx)
        ]

    def process_results(self, doc: dict, results: list[Any]) -> dict[str, Any]:
        record = doc_record(doc, results, require_consistent=self._require_consistent)
        return {name: record for name in self._aggregation_list}
