"""Dataclass configs for ``selfrat train``, loadable from YAML with ``a.b=c`` overrides.

Every stage reads only its own section, so a recipe can be checked (``TrainConfig.load``) without
importing torch. Unknown keys are errors that name the section, so typos never pass silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..loaders import FEEDBACK_BENCH_HUB_ID, FEEDBACK_COLLECTION_HUB_ID

Method = Literal["self-rationalization", "sft-only", "rejection-sampling"]
Strategy = Literal["gold", "majority", "meta-judge"]
METHODS = ("self-rationalization", "sft-only", "rejection-sampling")
STRATEGIES = ("gold", "majority", "meta-judge")
BALANCE_MODES = ("none", "min", "cap")
BASELINES = ("rejection-sampling",)
EVAL_STRATEGIES = ("greedy", "self-consistency", "best-of-n", "expected-score")


class ConfigError(ValueError):
    """A training config is invalid; the message names the file and the field."""


@dataclass
class ModelConfig:
    """The starting model (a Hub id or a local dir; ``gguf_file`` for a GGUF checkpoint)."""

    name_or_path: str = ""
    gguf_file: str | None = None
    dtype: str = "auto"  # auto = bfloat16 on a GPU that supports it, else float32
    # bf16 autocast around the forward passes of SFT/DPO with the weights kept in ``dtype``
    # (mixed precision; on CPUs with AMX it trains ~1.6x faster than float32).
    autocast_bf16: bool = False
    trust_remote_code: bool = False
    attn_implementation: str | None = None


@dataclass
class LoraSettings:
    """LoRA through peft; ``enabled: false`` means full fine-tuning."""

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: Any = "all-linear"


@dataclass
class DataConfig:
    """Training inputs in the Feedback-Collection layout (Hub id or local file/dir)."""

    source: str = FEEDBACK_COLLECTION_HUB_ID
    split: str = "train"
    # Feedback Bench is a split of Feedback-Collection: drop its rows from training (None disables).
    decontaminate_against: str | None = FEEDBACK_BENCH_HUB_ID
    limit: int | None = None  # read at most this many rows after decontamination
    heldout_size: int = 200  # items carved out (seeded) to evaluate every judge
    # A separate held-out file/dir/Hub id (Feedback Bench layout) instead of carving heldout_size
    # items out of the pool; training rows that also appear in it are dropped.
    heldout_source: str | None = None
    heldout_split: str = "train"
    # SFT on this many (seeded) training items and draw the iteration inputs from the others, so
    # self-sampling never sees an SFT item; None = SFT on every training item.
    sft_size: int | None = None
    use_reference_answer: bool = True
    # Iteration inputs are disjoint slices of the pool; a pool too small for heldout_size plus the
    # sum of iterations is an error before any model loads, unless this allows repeating inputs.
    allow_reuse: bool = False


@dataclass
class PairwiseSFTConfig:
    """Optional pairwise judge (Preference-Collection) merged linearly with the pointwise one."""

    enabled: bool = False
    source: str = "prometheus-eval/Preference-Collection"
    split: str = "train"
    limit: int | None = None
    merge_weight: float = 0.5  # weight of the pairwise judge in the linear merge


@dataclass
class TrainerSettings:
    """Optimisation settings shared by the SFT and DPO stages."""

    epochs: float = 1.0
    max_steps: int = -1
    learning_rate: float = 1e-5
    batch_size: int = 1
    gradient_accumulation_steps: int = 8
    max_length: int = 2048
    warmup_ratio: float = 0.1
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    gradient_checkpointing: bool = False
    logging_steps: int = 10
    save_steps: int = 50  # checkpoints make a killed run resumable
    save_total_limit: int = 2


@dataclass
class SFTConfig(TrainerSettings):
    enabled: bool = True
    learning_rate: float = 2e-5
    pairwise: PairwiseSFTConfig = field(default_factory=PairwiseSFTConfig)


@dataclass
class SamplingStageConfig:
    """Self-sampling of N judgments per training input."""

    n: int = 8
    temperature: float = 1.0
    top_p: float = 0.9
    max_new_tokens: int = 512
    repetition_penalty: float = 1.03
    batch_size: int = 8  # prompts per generate call = per resumable unit of samples.jsonl
    backend: Literal["auto", "hf", "vllm"] = "auto"
    hf_batch_size: int = 8  # sequences per forward pass in the HF backend
    tensor_parallel_size: int = 1  # vLLM
    gpu_memory_utilization: float = 0.9  # vLLM
    max_model_len: int | None = None  # vLLM
    # dtype of the generation backend (sampling and held-out evaluation); None = model.dtype.
    # bfloat16 halves CPU generation time on AMX CPUs.
    dtype: str | None = None
    # Re-sampling: an input whose samples give no preference pair (no sample on the label, or none
    # far enough from it) gets ``resample_n`` more samples per round (default n), until it has a
    # pair or has received ``resample_budget`` extra samples. 0 disables it.
    resample_budget: int = 0
    resample_n: int | None = None


@dataclass
class CurationConfig:
    """How preference pairs are built from a judge's own samples."""

    strategy: Strategy = "gold"
    min_gap: int = 2  # rejected misses the label by at least this much
    pairs_per_input: int = 1
    # Label balancing of the pairs (and of rejection-sampling SFT rows): "cap" cuts every label
    # score to at most ``balance_cap`` pairs (default: the mean count over the labels present),
    # "min" cuts every label down to the rarest label's count, "none" keeps everything.
    # true/false are read as "min"/"none".
    balance: str = "cap"
    balance_cap: int | None = None
    max_pairs: int | None = None
    # A rationale-score consistency check (selfrat_eval.training.consistency) every chosen judgment
    # and rejection-sampling SFT example must pass; None = the score alone decides.
    consistency: str | None = None
    # Which wrong judgments are rejected first: "any" (the paper: every judgment missing the label
    # qualifies alike) or "inconsistent" (judgments failing the ``consistency`` check first, so a
    # pair contrasts a rationale that follows its own evidence with one that contradicts it).
    rejected_preference: Literal["any", "inconsistent"] = "any"
    # A verdict-contrast function (selfrat_eval.training.contrasts) naming the verdicts each pair
    # pushes; pairs are then dropped, greedily, until no single drop evens the kinds' two directions
    # further, so the pairs push no verdict kind's prior one way by count. None: off.
    balance_contrasts: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.balance, bool):  # the former boolean switch
            self.balance = "min" if self.balance else "none"
    meta_judge_n: int = 1  # meta-judge: samples per rating of a judgment
    meta_judge_rubric: str | None = None  # path/name of the rubric used to rate judgments


@dataclass
class DPOConfig(TrainerSettings):
    beta: float = 0.1
    learning_rate: float = 5e-6
    epochs: float = 1.0
    loss_type: str = "sigmoid"
    # NLL on chosen (Self-Taught Evaluators; trl's "sft" loss). A per-token mean while DPO sums over
    # tokens: about beta * tokens / 2 weighs the two equally (docs/training.md).
    nll_alpha: float = 0.0
    ref_mode: Literal["auto", "precompute", "explicit"] = "auto"  # full fine-tuning only
    heldout_pairs: int = 0  # pairs kept out of DPO to measure the chosen-over-rejected margin
    # Repeat DPO with another random draw (pair order, LoRA init) on the same pairs: 0 is the run's
    # own; 1, 2, ... give independent draws, to see how far one training run's outcome can move.
    draw: int = 0


@dataclass
class RejectionSamplingConfig(TrainerSettings):
    """Rejection-sampling SFT (``method: rejection-sampling`` and ``baselines: [rejection-sampling]``):
    SFT of judge t-1 on up to ``per_input`` distinct sampled judgments per input that land on the
    gold score, label-balanced like the pairs (``curation.balance``)."""

    learning_rate: float = 2e-5
    per_input: int = 2


@dataclass
class EvalConfig:
    """Held-out evaluation of every judge: the ``feedback_bench`` protocol through the runner
    (``selfrat evaluate``), once per strategy, generations cached under ``cache_dir``."""

    enabled: bool = True
    # Runner strategies: names (greedy, expected-score, self-consistency, best-of-n) or mappings
    # {name, n, sc_method, select_by} overriding the shared settings below.
    strategies: list[Any] = field(default_factory=lambda: ["greedy"])
    n: int = 8  # samples per item for self-consistency / best-of-n
    sc_method: str = "majority"
    select_by: str = "logprob"
    temperature: float | None = None  # sampling strategies; None = the runner's default (1.0)
    top_p: float | None = None  # None = the runner's default (0.9)
    max_new_tokens: int = 512
    chunk_size: int = 32  # prompts per cached batch
    bootstrap: int = 1000  # resamples for the 95% CIs
    max_retries: int = 0
    cache_dir: str | None = None  # default <output_dir>/cache


@dataclass
class ValidationConfig:
    """Checkpoint selection between iterations. Each trained judge is judged greedily (the
    ``feedback_bench`` protocol, like the held-out split) on ``size`` validation items, and kept
    only if its Pearson reaches the incumbent's plus ``min_gain``; otherwise the next iteration
    samples from, and trains, the incumbent again. The items are training items the run leaves
    unused (outside every iteration slice, and outside the SFT share when SFT runs), so a larger
    ``size`` needs a larger pool. ``size: 0`` keeps every iteration, as the paper does.

    ``draws`` > 1 trains that many DPO draws per iteration on the same pairs (``dpo.draw``,
    ``dpo.draw`` + 1, ...: another pair order and LoRA init each) and puts the one with the best
    validation Pearson before the gate: one DPO run's outcome moves with its draw by up to 0.25
    held-out Pearson on the CPU demo (records/sre-nll-dominant), so a single draw is a lottery."""

    size: int = 0
    min_gain: float = 0.0
    draws: int = 1


# Keys added after runs existed: left out of the fingerprint while at their default.
_ADDED_LATER: tuple[tuple[str, str, Any], ...] = (
    ("data", "allow_reuse", False),
    ("curation", "consistency", None),
    ("curation", "rejected_preference", "any"),
    ("curation", "balance_contrasts", None),
    ("dpo", "draw", 0),
    ("validation", "draws", 1),
)


@dataclass
class TrainConfig:
    output_dir: str = "runs/selfrat"
    seed: int = 0
    method: Method = "self-rationalization"
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataConfig = field(default_factory=DataConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    sampling: SamplingStageConfig = field(default_factory=SamplingStageConfig)
    curation: CurationConfig = field(default_factory=CurationConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    rs_sft: RejectionSamplingConfig = field(default_factory=RejectionSamplingConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    # Training baselines run beside self-rationalization on the same data and samples:
    # "rejection-sampling" = RS-SFT of the seed on iteration 1's samples (stage ``rs_sft``).
    baselines: list[str] = field(default_factory=list)
    # Inputs per iteration (disjoint, seeded slices of the training pool); the paper: [5000, 500].
    iterations: list[int] = field(default_factory=lambda: [5000, 500])
    report_to: str | list[str] = "none"  # passed to trl: "tensorboard", "wandb", ...
    use_cpu: bool | None = None  # None = no GPU available

    # ---- loading ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "config") -> TrainConfig:
        cfg = _build(cls, data, where)
        cfg.validate(where)
        return cfg

    @classmethod
    def load(cls, path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        data = apply_overrides(data, overrides)
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """Hash of what decides the results (not where logs go): resume refuses a changed config."""
        d = self.to_dict()
        for key in ("report_to", "output_dir"):
            d.pop(key, None)
        for section, key, default in _ADDED_LATER:  # runs started before a key existed keep their fingerprint
            if d[section][key] == default:
                del d[section][key]
        if not d["validation"]["size"]:  # likewise: runs without a validation gate keep theirs
            del d["validation"]
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def validate(self, where: str = "config") -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"{where}: {msg}")

        if self.method not in METHODS:
            raise bad(f"method must be one of {METHODS}, got {self.method!r}")
        if not self.model.name_or_path:
            raise bad("model.name_or_path is required")
        if self.curation.strategy not in STRATEGIES:
            raise bad(f"curation.strategy must be one of {STRATEGIES}, got {self.curation.strategy!r}")
        if self.curation.min_gap < 1:
            raise bad("curation.min_gap must be >= 1")
        from .consistency import CONSISTENCY_CHECKS
        from .contrasts import CONTRAST_FUNCTIONS

        if self.curation.consistency is not None and self.curation.consistency not in CONSISTENCY_CHECKS:
            raise bad(f"curation.consistency must be empty or one of {sorted(CONSISTENCY_CHECKS)}, "
                      f"got {self.curation.consistency!r}")
        if self.curation.pairs_per_input < 1:
            raise bad("curation.pairs_per_input must be >= 1")
        if self.curation.rejected_preference not in ("any", "inconsistent"):
            raise bad(f"curation.rejected_preference must be any or inconsistent, got {self.curation.rejected_preference!r}")
        if self.curation.rejected_preference == "inconsistent" and self.curation.consistency is None:
            raise bad("curation.rejected_preference=inconsistent needs curation.consistency (the check that decides)")
        if self.curation.balance_contrasts is not None and self.curation.balance_contrasts not in CONTRAST_FUNCTIONS:
            raise bad(
                f"curation.balance_contrasts must be one of {sorted(CONTRAST_FUNCTIONS)} or null, "
                f"got {self.curation.balance_contrasts!r}"
            )
        if self.sampling.n < 2 and self.method == "self-rationalization":
            raise bad("sampling.n must be >= 2 to build preference pairs")
        if self.sampling.backend not in ("auto", "hf", "vllm"):
            raise bad(f"sampling.backend must be auto, hf or vllm, got {self.sampling.backend!r}")
        if not isinstance(self.iterations, list) or any(
            not isinstance(n, int) or n < 1 for n in self.iterations
        ):
            raise bad("iterations must be a list of positive input counts, e.g. [5000, 500]")
        if self.method == "self-rationalization" and not self.iterations:
            raise bad("iterations is empty: nothing to train")
        if self.dpo.nll_alpha < 0:
            raise bad("dpo.nll_alpha must be >= 0")
        if self.dpo.ref_mode not in ("auto", "precompute", "explicit"):
            raise bad("dpo.ref_mode must be auto, precompute or explicit")
        if not 0.0 <= self.sft.pairwise.merge_weight <= 1.0:
            raise bad("sft.pairwise.merge_weight must be in [0, 1]")
        if self.data.heldout_size < 0:
            raise bad("data.heldout_size must be >= 0")
        if self.data.sft_size is not None and self.data.sft_size < 1:
            raise bad("data.sft_size must be >= 1 (or null for every training item)")
        if self.curation.balance not in BALANCE_MODES:
            raise bad(f"curation.balance must be one of {BALANCE_MODES} (or true/false), got {self.curation.balance!r}")
        if self.curation.balance_cap is not None and self.curation.balance_cap < 1:
            raise bad("curation.balance_cap must be >= 1")
        if self.sampling.resample_budget < 0:
            raise bad("sampling.resample_budget must be >= 0")
        if self.sampling.resample_n is not None and self.sampling.resample_n < 1:
            raise bad("sampling.resample_n must be >= 1")
        round_size = self.sampling.resample_n or self.sampling.n
        if 0 < self.sampling.resample_budget < round_size:
            raise bad(
                f"sampling.resample_budget={self.sampling.resample_budget} is smaller than one re-sampling round "
                f"(resample_n or n = {round_size}): no input could ever be re-sampled; raise the budget or set "
                "sampling.resample_n to at most the budget"
            )
        if self.rs_sft.per_input < 1:
            raise bad("rs_sft.per_input must be >= 1")
        if not isinstance(self.baselines, list) or any(b not in BASELINES for b in self.baselines):
            raise bad(f"baselines must be a list of {BASELINES}, got {self.baselines!r}")
        if self.baselines and self.method != "self-rationalization":
            raise bad("baselines run beside self-rationalization; use method: self-rationalization")
        from .evaluate import strategy_configs

        try:
            strategy_configs(self.evaluation)
        except (TypeError, ValueError) as exc:
            raise bad(f"evaluation: {exc}") from None
        for problem in self._range_problems():
            raise bad(problem)
        if self.validation.draws > 1 and not self.validation.size:
            raise bad("validation.draws > 1 picks a DPO draw by its validation Pearson: set validation.size > 0")
        if self.validation.draws > 1 and self.method != "self-rationalization":
            raise bad("validation.draws > 1 repeats the DPO stage; it needs method: self-rationalization")

    def _range_problems(self) -> list[str]:
        """Values that would otherwise pass silently or fail deep inside a stage, field named."""
        samples = self.method != "sft-only"
        checks: list[tuple[str, Any, Any, str]] = [
            # (field, value, condition, what it must be)
            ("sampling.temperature", self.sampling.temperature,
             (lambda v: v > 0) if samples else (lambda v: v >= 0),
             "> 0 (self-sampling needs different judgments)" if samples else ">= 0"),
            ("sampling.top_p", self.sampling.top_p, lambda v: 0 < v <= 1, "in (0, 1]"),
            ("sampling.repetition_penalty", self.sampling.repetition_penalty, lambda v: v > 0, "> 0"),
            ("sampling.n", self.sampling.n, lambda v: v >= 1, ">= 1"),
            ("sampling.max_new_tokens", self.sampling.max_new_tokens, lambda v: v >= 1, ">= 1"),
            ("sampling.batch_size", self.sampling.batch_size, lambda v: v >= 1, ">= 1"),
            ("sampling.hf_batch_size", self.sampling.hf_batch_size, lambda v: v >= 1, ">= 1"),
            ("sampling.tensor_parallel_size", self.sampling.tensor_parallel_size, lambda v: v >= 1, ">= 1"),
            ("sampling.gpu_memory_utilization", self.sampling.gpu_memory_utilization, lambda v: 0 < v <= 1, "in (0, 1]"),
            ("dpo.beta", self.dpo.beta, lambda v: v > 0, "> 0"),
            ("evaluation.temperature", self.evaluation.temperature, lambda v: v is None or v > 0,
             "empty (the strategy's default) or > 0 for the sampling strategies"),
            ("evaluation.n", self.evaluation.n, lambda v: v >= 2, ">= 2"),
            ("evaluation.max_new_tokens", self.evaluation.max_new_tokens, lambda v: v >= 1, ">= 1"),
            ("evaluation.chunk_size", self.evaluation.chunk_size, lambda v: v >= 1, ">= 1"),
            ("evaluation.bootstrap", self.evaluation.bootstrap, lambda v: v >= 0, ">= 0"),
            ("curation.meta_judge_n", self.curation.meta_judge_n, lambda v: v >= 1, ">= 1"),
            ("lora.r", self.lora.r, lambda v: v >= 1, ">= 1"),
            ("lora.dropout", self.lora.dropout, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("data.limit", self.data.limit, lambda v: v is None or (_is_int(v) and v >= 1), "empty or an integer >= 1"),
            ("curation.max_pairs", self.curation.max_pairs, lambda v: v is None or (_is_int(v) and v >= 1),
             "empty or an integer >= 1"),
            ("validation.size", self.validation.size, lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
            ("validation.min_gain", self.validation.min_gain,
             lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < float("inf"), "a finite number"),
            ("dpo.draw", self.dpo.draw, lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
            ("validation.draws", self.validation.draws, lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        ]
        for stage, t in (("sft", self.sft), ("dpo", self.dpo)):
            checks += [
                (f"{stage}.learning_rate", t.learning_rate, lambda v: v > 0, "> 0"),
                (f"{stage}.batch_size", t.batch_size, lambda v: v >= 1, ">= 1"),
                (f"{stage}.gradient_accumulation_steps", t.gradient_accumulation_steps, lambda v: v >= 1, ">= 1"),
                (f"{stage}.epochs", t.epochs, lambda v, steps=t.max_steps: v > 0 or steps > 0, "> 0 (or set max_steps)"),
                (f"{stage}.max_length", t.max_length, lambda v: v >= 1, ">= 1"),
                (f"{stage}.warmup_ratio", t.warmup_ratio, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ]
        problems = []
        for name, value, ok, what in checks:
            try:
                good = bool(ok(value))  # NaN compares False: rejected
            except TypeError:
                good = False
            if not good:
                problems.append(f"{name} must be {what}, got {value!r}")
        return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value or {}, f"{where}: {name}")
        else:
            kwargs[name] = _coerce(value, fields[name], f"{where}: {name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(value: Any, f: dataclasses.Field, where: str) -> Any:
    """YAML 1.1 reads ``2e-3`` (no dot) as a string: accept it for float fields, reject other
    type mismatches with the field named."""
    default = f.default
    if isinstance(default, bool) or default is None or default is dataclasses.MISSING:
        return value
    if isinstance(default, float) and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if isinstance(default, int) and not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    return value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``["dpo.beta=0.2", "iterations=[100,10]"]``: values are parsed as YAML."""
    out = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key.path=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else None
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[parts[-1]] = value
    return out
