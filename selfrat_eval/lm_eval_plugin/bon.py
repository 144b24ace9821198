"""``selfrat-bon``: turn any lm-eval model into a best-of-N judge.

``--model selfrat-bon --model_args base=hf,pretrained=...,n=8`` wraps the ``base`` model (any
registered lm-eval model; the remaining model args go to it). For every ``generate_until`` request
it draws ``n`` samples (use sampling generation kwargs, as the ``*_bon`` tasks do), scores each
parsed judgment with the base model's ``loglikelihood`` of the sample given the prompt, divided by
the sample's token count (mean token log-probability), and returns the judgment chosen by
``selfrat_eval.aggregation.best_of_n(by="logprob")``: unparsable samples are never chosen; when
all fail, the first sample is returned and counted as a failure by the task. For docs that are not
selfrat judge docs, every non-empty sample is a candidate. Loglikelihood requests pass through.
"""

from __future__ import annotations

import logging
from typing import Any

import lm_eval.models  # noqa: F401  -- registers the built-in models before we register ours
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import get_model, model_registry
from lm_eval.utils import simple_parse_args_string
from tqdm import tqdm

from ..aggregation import best_of_n
from ..parsing import Judgment, parse_judgment
from .discovery import BON_MODEL_NAME

log = logging.getLogger(__name__)


class BestOfNText(str):
    """The selected judgment text plus how it was chosen (read by the ``*_bon`` tasks)."""

    n_samples: int
    n_failed_samples: int
    selected_index: int | None
    mean_logprob: float

    def __new__(
        cls,
        text: str,
        *,
        n_samples: int,
        n_failed_samples: int,
        selected_index: int | None,
        mean_logprob: float,
    ) -> BestOfNText:
        obj = super().__new__(cls, text)
        obj.n_samples = n_samples
        obj.n_failed_samples = n_failed_samples
        obj.selected_index = selected_index
        obj.mean_logprob = mean_logprob
        return obj


def _judgment(doc: Any, text: str) -> Judgment | None:
    """Parse with the doc's mode/scale; None for docs that are not selfrat judge docs."""
    if not isinstance(doc, dict) or doc.get("mode") not in ("absolute", "relative") or "scale_low" not in doc:
        return None
    return parse_judgment(text, mode=doc["mode"], scale=(int(doc["scale_low"]), int(doc["scale_high"])))


class SelfratBestOfN(LM):
    """Best-of-N wrapper around another lm-eval model (selection by mean token log-probability)."""

    def __init__(self, base: LM, n: int = 8) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"selfrat-bon: n must be >= 1, got {n}")
        self.base = base
        self.n = int(n)

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> SelfratBestOfN:
        args = simple_parse_args_string(arg_string) if isinstance(arg_string, str) else dict(arg_string or {})
        return cls.create_from_arg_obj(args, additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None) -> SelfratBestOfN:
        args = dict(arg_dict)
        base_name = str(args.pop("base", "hf"))
        if base_name == BON_MODEL_NAME:
            raise ValueError("selfrat-bon: base must be another model (e.g. hf, vllm)")
        n = int(args.pop("n", 8))
        base_cls = get_model(base_name)
        base = base_cls.create_from_arg_obj(args, additional_config)
        return cls(base, n=n)

    # ---- delegation ---------------------------------------------------------------------------
    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        return self.base.loglikelihood(requests)

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        return self.base.loglikelihood_rolling(requests)

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return self.base.apply_chat_template(chat_history, add_generation_prompt=add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return self.base.tokenizer_name

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.base.chat_template(chat_template)

    @property
    def rank(self) -> int:
        return self.base.rank

    @property
    def world_size(self) -> int:
        return self.base.world_size

    def __getattr__(self, name: str) -> Any:  # device, batch_sizes, get_model_info, ...
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    # ---- best-of-N ----------------------------------------------------------------------------
    def _n_tokens(self, text: str) -> int:
        encode = getattr(self.base, "tok_encode", None)
        if encode is None:
            raise TypeError(
                f"selfrat-bon: base model {type(self.base).__name__} has no tok_encode; cannot average log-probs"
            )
        return len(encode(text))

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        n = self.n
        copies = [
            Instance(
                request_type="generate_until",
                doc=req.doc,
                arguments=req.args,
                idx=req.idx,
                metadata=req.metadata,
            )
            for req in requests
            for _ in range(n)
        ]
        samples = self.base.generate_until(copies)
        # Score only candidates: parsed judgments (selfrat docs) or non-empty samples (other docs).
        to_score: list[tuple[int, int]] = []
        parsed: list[list[Judgment | None]] = []
        for r, req in enumerate(requests):
            row = []
            for k in range(n):
                text = samples[r * n + k]
                j = _judgment(req.doc, text)
                row.append(j)
                if j.ok if j is not None else bool(text.strip()):
                    to_score.append((r, k))
            parsed.append(row)
        scores: dict[tuple[int, int], float] = {}
        if to_score:
            ll_requests = [
                Instance(
                    request_type="loglikelihood",
                    doc=requests[r].doc,
                    arguments=(requests[r].args[0], samples[r * n + k]),
                    idx=0,
                )
                for r, k in to_score
            ]
            lls = self.base.loglikelihood(ll_requests)
            for (r, k), (ll, _greedy) in zip(to_score, lls, strict=True):
                scores[(r, k)] = float(ll) / max(1, self._n_tokens(samples[r * n + k]))
        out: list[str] = []
        for r, req in enumerate(
            tqdm(requests, desc="selfrat-bon selection", disable=disable_tqdm or len(requests) < 2)
        ):
            texts = samples[r * n : (r + 1) * n]
            row = parsed[r]
            means = [scores.get((r, k), float("nan")) for k in range(n)]
            if row[0] is not None:
                sel = best_of_n(row, by="logprob", logprobs=means)  # type: ignore[arg-type]
                index, failed = sel.index, sel.n_failed
            else:
                cands = [k for k in range(n) if (r, k) in scores]
                index = max(cands, key=lambda k: (means[k], -k)) if cands else None
                failed = n - len(cands)
            chosen = texts[index] if index is not None else texts[0]
            out.append(
                BestOfNText(
                    chosen,
                    n_samples=n,
                    n_failed_samples=failed,
                    selected_index=index,
                    mean_logprob=means[index] if index is not None else float("nan"),
                )
            )
            self.cache_hook.add_partial("generate_until", req.args, str(chosen))
        return out


if BON_MODEL_NAME not in model_registry:
    model_registry.register(BON_MODEL_NAME, target=f"{__name__}:SelfratBestOfN")
