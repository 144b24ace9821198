"""The lm-eval task class behind every ``selfrat_*`` YAML: an adapter over a benchmark protocol.

The protocol and strategy (from the task metadata, :class:`~.data.TaskSpec`) decide everything;
this class only speaks lm-eval's public Task API:

- ``__init__`` sets the generation kwargs and ``repeats`` from the strategy (N samples for the
  sampling strategies; ``--gen_kwargs`` still overrides as for any task) and a filter that keeps
  every sample;
- ``fewshot_context``/``construct_requests``: one generation request per judge request of an item
  (RewardBench items have two), rendered the lm-eval way (``description`` = the judge's system
  message, so ``--system_instruction`` and ``--apply_chat_template`` behave as for any task);
- ``process_results``: the samples become :class:`~selfrat_eval.protocols.Draw`\\ s and the protocol
  decides the item (``judge_item``); every metric receives the item result;
- ``aggregation``/``higher_is_better``: each metric is one named value of ``protocol.metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from ..protocols import Draw, ItemResult, judge_item
from .data import TaskSpec, items_of

LOWER_IS_BETTER = frozenset({"mae", "n_failed", "n_bon_fallback", "n_forced"})
ALL_SAMPLES_FILTER = [{"name": "none", "filter": []}]  # keep every sample: the protocol decides


def generation_kwargs(spec: TaskSpec) -> dict[str, Any]:
    """lm-eval generation kwargs of the strategy's decoding settings (the protocol's defaults)."""
    sampling = spec.strategy.sampling()
    kwargs: dict[str, Any] = {"until": [], "max_gen_toks": sampling.max_new_tokens}
    if sampling.greedy:
        kwargs["do_sample"] = False
    else:
        kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
    return kwargs


class ProtocolMetric:
    """One named value of ``protocol.metrics`` as an lm-eval aggregation (a callable object, so
    the results JSON shows its name). The metrics of a task share one computation per record list."""

    def __init__(self, name: str, task: SelfratJudgeTask) -> None:
        self.name = name
        self.task = task

    def __call__(self, records: Sequence[ItemResult]) -> float:
        value = self.task.metrics_of(records).get(self.name)
        return math.nan if value is None else float(value)

    def __repr__(self) -> str:
        return f"selfrat_eval:{self.name}"


class SelfratJudgeTask(ConfigurableTask):
    """A judge-evaluation task: prompts, decisions and metrics from a selfrat protocol."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        if config is None:
            raise ValueError("SelfratJudgeTask needs its YAML config")
        config = dict(config)
        config.pop("class", None)
        self.spec = TaskSpec.from_metadata(config.get("metadata") or {})
        config["generation_kwargs"] = generation_kwargs(self.spec)
        config["repeats"] = self.spec.strategy.samples
        config["filter_list"] = deepcopy(ALL_SAMPLES_FILTER)
        config["metric_list"] = []  # metrics come from the protocol (aggregation() below)
        self._metrics_cache: tuple[tuple[int, ...], dict[str, float]] | None = None
        super().__init__(config=config)
        labels = [self.spec.protocol.labels(item) for item in items_of(self.spec.protocol)]
        self.metric_names = self.spec.protocol.metric_names(labels, self.spec.strategy)

    # ---- prompts ---------------------------------------------------------------------------------

    def fewshot_context(self, doc: dict, num_fewshot: int, **kwargs: Any) -> str | list[str]:  # type: ignore[override]
        # In plain-text mode lm-eval joins the description and the prompt with no separator, so the
        # system text gets the blank line JudgePrompt.text() puts there; a chat template gets the
        # system turn as is.
        sep = "" if kwargs.get("apply_chat_template") else "\n\n"
        contexts = [
            super(SelfratJudgeTask, self).fewshot_context(
                {**doc, "judge_system": r["system"] + sep if r["system"] else "", "judge_user": r["user"]},
                num_fewshot,
                **kwargs,
            )
            for r in doc["requests"]
        ]
        return contexts[0] if len(contexts) == 1 else contexts

    def construct_requests(self, doc: dict, ctx: Any, **kwargs: Any) -> list[Instance] | Instance:
        contexts = ctx if isinstance(ctx, list) else [ctx]
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
            for i, c in enumerate(contexts)
        ]

    # ---- decisions and metrics -----------------------------------------------------------------

    def process_results(self, doc: dict, results: list[Any]) -> dict[str, Any]:
        protocol = self.spec.protocol
        item = items_of(protocol)[doc["index"]]
        if len(results) != len(doc["requests"]):
            raise ValueError(f"doc {doc['id']}: expected {len(doc['requests'])} judge outputs, got {len(results)}")
        draws = {
            r["key"]: [as_draw(x) for x in (result if isinstance(result, (list, tuple)) else [result])]
            for r, result in zip(doc["requests"], results, strict=True)
        }
        record, _ = judge_item(protocol, item, draws, self.spec.strategy)
        return {name: record for name in self.metric_names}

    def metrics_of(self, records: Sequence[ItemResult]) -> dict[str, float]:
        key = tuple(id(r) for r in records)
        if self._metrics_cache is None or self._metrics_cache[0] != key:
            self._metrics_cache = (key, self.spec.protocol.metrics(list(records)))
        return self._metrics_cache[1]

    def aggregation(self) -> dict[str, ProtocolMetric]:
        return {name: ProtocolMetric(name, self) for name in self.metric_names}

    def higher_is_better(self) -> dict[str, bool]:
        return {name: name not in LOWER_IS_BETTER for name in self.metric_names}


def as_draw(response: Any) -> Draw:
    """A model response as a Draw; the ``selfrat-judge`` model attaches log-probs to its strings."""
    return Draw(
        str(response),
        getattr(response, "mean_logprob", None),
        getattr(response, "score_logprobs", None),
        bool(getattr(response, "forced", False)),
    )
