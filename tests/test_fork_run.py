"""benchmarks/fork_run.py: a fork reuses a run's split, seed evaluation and samples under a config
that changes only later stages, and the pipeline accepts it for resuming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers_benchmarks import benchmark_script

from selfrat_eval.training.config import TrainConfig
from selfrat_eval.training.pipeline import Manifest


def _config(path: Path, out: Path, sampling: dict | None = None, evaluation: dict | None = None, **curation) -> Path:
    cfg = TrainConfig.from_dict({"model": {"name_or_path": "m"}, "output_dir": str(out), "curation": curation, "sft": {"enabled": False},
                                 "sampling": {"resample_budget": 8, **(sampling or {})}, "evaluation": evaluation or {}})
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    return path


def test_fork_copies_the_reused_stages_and_resumes_under_the_new_config(tmp_path):
    fork = benchmark_script("fork_run").fork
    src = tmp_path / "src"
    _config(tmp_path / "src.yaml", src)
    for rel in ("data/heldout.jsonl", "base/eval/greedy/results.json", "iter1/samples.jsonl", "iter1/resample1.jsonl",
                "iter1/pairs.jsonl", "iter1/dpo/model/x"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel, encoding="utf-8")
    (src / "config.yaml").write_text((tmp_path / "src.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    stages = {s: {"status": "done", "n": i} for i, s in enumerate(("base/eval", "iter1/sampling", "iter1/curation", "iter1/dpo"))}
    (src / "manifest.json").write_text(json.dumps({"fingerprint": "x", "method": "self-rationalization", "stages": stages}))

    dst = fork(src, _config(tmp_path / "fork.yaml", tmp_path / "fork", balance_contrasts="constraint-verdicts",
                            evaluation={"cache_dir": str(tmp_path / "fork-cache")}))
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file()) == [
        "base/eval/greedy/results.json", "config.yaml", "data/heldout.jsonl", "iter1/resample1.jsonl",
        "iter1/samples.jsonl", "manifest.json"]
    cfg = TrainConfig.load(tmp_path / "fork.yaml")
    manifest = Manifest.open(dst, cfg)  # raises on a fingerprint mismatch
    assert manifest.done("iter1/sampling") == stages["iter1/sampling"] and manifest.done("iter1/curation") is None
    assert TrainConfig.load(dst / "config.yaml").fingerprint() == cfg.fingerprint()
    with pytest.raises(SystemExit, match="exists"):
        fork(src, tmp_path / "fork.yaml")
    with pytest.raises(SystemExit, match=r"in \['sampling'\]"):  # the samples would not be this config's
        fork(src, _config(tmp_path / "n.yaml", tmp_path / "other", sampling={"n": 4}))
    # the re-sampling budget picked inputs by the source's curation rules; the seed evaluation is reused
    with pytest.raises(SystemExit, match=r"in \['curation.consistency'\]"):
        fork(src, _config(tmp_path / "c.yaml", tmp_path / "other", consistency="constraint-count"))
    with pytest.raises(SystemExit, match=r"in \['evaluation'\]"):
        fork(src, _config(tmp_path / "e.yaml", tmp_path / "other", evaluation={"bootstrap": 10}))
    assert not (tmp_path / "other").exists()
    manifest = json.loads((src / "manifest.json").read_text())
    del manifest["stages"]["base/eval"]
    (src / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit, match=r"stages \['base/eval'\] are not done"):
        fork(src, _config(tmp_path / "late.yaml", tmp_path / "late"))


def test_a_fork_may_change_how_many_dpo_draws_the_gate_weighs_but_not_the_gate():
    changed = benchmark_script("fork_run").changed_sections
    gated = {"model": {"name_or_path": "m"}, "validation": {"size": 10}}
    src = TrainConfig.from_dict(gated)
    assert changed(TrainConfig.from_dict({**gated, "validation": {"size": 10, "draws": 3}}), src) == []
    assert changed(TrainConfig.from_dict({**gated, "validation": {"size": 20, "draws": 3}}), src) == ["validation"]
