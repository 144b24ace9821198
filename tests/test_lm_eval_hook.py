"""Discovery of the selfrat_* tasks and the selfrat-judge model through the start-up hook, in editable
and wheel installs, without hiding lm-eval's built-in tasks or models; opt-out and fallbacks."""

from __future__ import annotations

import importlib.metadata
import json
import sys
import sysconfig
import textwrap
import types
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from helpers_lm_eval import REPO_ROOT, lm_eval_exe, offline_env, run  # noqa: E402

from selfrat_eval.lm_eval_plugin import discovery, task_dir  # noqa: E402

PROBE = textwrap.dedent(
    """
    import json, sys, os
    import lm_eval.tasks.manager as manager
    from lm_eval.tasks import TaskManager
    from lm_eval.api.registry import get_model, model_registry
    # Record the searched folders but index only the non-built-in ones (a full index takes ~10 s;
    # `lm_eval ls groups` below and the end-to-end runs use the full index).
    indexed = []
    original = manager.TaskIndex.build
    builtin = os.path.dirname(manager.__file__)
    def build(paths, **kw):
        paths = list(paths)
        indexed.extend(str(p) for p in paths)
        return original([p for p in paths if str(p) != builtin], **kw)
    manager.TaskIndex.build = staticmethod(build)
    tm = TaskManager()
    import lm_eval.models  # what get_model() does on first use: registers the built-in models
    entry = tm.task_index.get("selfrat_biggen")
    print(json.dumps({
        "indexed": indexed,
        "patched": getattr(TaskManager.__init__, "_selfrat_eval_patched", False),
        "selfrat_tasks": sorted(t for t in tm.all_tasks if t.startswith("selfrat")),
        "selfrat_yaml": str(entry.yaml_path) if entry else None,
        # membership, not materialisation: importing the HF model pulls in torch (seconds);
        # the end-to-end tests run --model hf for real.
        "hf": "hf" in model_registry and model_registry._objs["hf"] == "lm_eval.models.huggingface:HFLM",
        "vllm_registered": "vllm" in model_registry,
        "judge": get_model("selfrat-judge").__name__ if "selfrat-judge" in model_registry else None,
    }))
    """
)

EXPECTED_TASKS = sorted(
    ["selfrat"]
    + [
        f"selfrat_{family}{suffix}"
        for family in ("biggen", "feedback_bench", "rewardbench", "rewardbench_pointwise", "custom")
        for suffix in ("", "_sc", "_bon", "_es")
    ]
)


def _probe(env: dict[str, str], python: list[str] | None = None) -> dict:
    proc = run([*(python or [sys.executable]), "-c", PROBE], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_startup_hook_is_lazy():
    code = (
        "import sys, json; print(json.dumps({'hook': '_selfrat_eval_lm_eval_hook' in sys.modules, "
        "'finder': any(getattr(f, '__name__', '') == 'SelfratLmEvalFinder' for f in sys.meta_path), "
        "'heavy': [m for m in ('selfrat_eval', 'lm_eval', 'torch', 'importlib.metadata') if m in sys.modules]}))"
    )
    on = json.loads(run([sys.executable, "-c", code]).stdout)
    assert on == {"hook": True, "finder": True, "heavy": []}
    off = json.loads(run([sys.executable, "-c", code], env=offline_env(SELFRAT_LM_EVAL_HOOK="0")).stdout)
    assert off["finder"] is False and off["heavy"] == []


def test_hook_files_land_in_site_packages():
    try:
        dist = importlib.metadata.distribution("selfrat-eval")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("selfrat-eval is not pip-installed in this environment")
    files = {str(f) for f in dist.files or []}
    assert {"selfrat_eval_lm_eval.pth", "_selfrat_eval_lm_eval_hook.py"} <= files
    purelib = Path(sysconfig.get_paths()["purelib"])
    assert (purelib / "selfrat_eval_lm_eval.pth").read_text().strip() == "import _selfrat_eval_lm_eval_hook"
    eps = importlib.metadata.entry_points()
    assert next(iter(eps.select(group="lm_eval.tasks", name="selfrat_eval"))).load()() == task_dir()
    assert (
        next(iter(eps.select(group="lm_eval.models", name="selfrat-judge"))).load().__name__ == "SelfratJudge"
    )


def test_hook_adds_our_folder_after_builtins():
    out = _probe(offline_env())
    assert out["patched"] and out["indexed"] == [out["indexed"][0], str(task_dir())]
    assert out["indexed"][0].endswith("lm_eval/tasks")  # built-ins first, never replaced
    assert out["selfrat_tasks"] == EXPECTED_TASKS and out["judge"] == "SelfratJudge" and out["hf"] is True


def test_opt_out_leaves_lm_eval_untouched():
    out = _probe(offline_env(SELFRAT_LM_EVAL_HOOK="0"))
    assert out["patched"] is False and out["selfrat_tasks"] == [] and out["judge"] is None
    assert out["hf"] is True and out["vllm_registered"]
    assert len(out["indexed"]) == 1  # only lm-eval's own folder


@pytest.mark.slow
def test_include_path_fallback_when_opted_out():
    printed = run([sys.executable, "-m", "selfrat_eval.lm_eval_path"]).stdout.strip()
    assert Path(printed) == task_dir()
    env = offline_env(SELFRAT_LM_EVAL_HOOK="0")
    proc = run(
        [
            lm_eval_exe(),
            "validate",
            "--tasks",
            "selfrat_biggen,selfrat_rewardbench_sc,hellaswag",
            "--include_path",
            printed,
        ],
        env=env,
    )
    assert proc.returncode == 0 and "All tasks found" in proc.stdout, proc.stdout + proc.stderr[-2000:]


@pytest.mark.slow
def test_lm_eval_cli_lists_tasks_without_flags():
    proc = run([lm_eval_exe(), "ls", "groups"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in proc.stdout.splitlines()
        if line.startswith("|")
    }
    assert "mmlu" in rows  # built-in groups are still there
    assert Path(rows["selfrat"]) == task_dir() / "selfrat" / "selfrat.yaml"


@pytest.mark.slow
def test_wheel_install_ships_tasks_and_hook(tmp_path: Path):
    """Build the real wheel, install it into a folder, and make that folder a site dir."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    build = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO_ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            "-q",
        ]
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {build.stderr[-500:]}")
    wheel = next(wheel_dir.glob("selfrat_eval-*.whl"))
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"selfrat_eval_lm_eval.pth", "_selfrat_eval_lm_eval_hook.py"} <= names
    assert {"selfrat_eval/tasks/selfrat/selfrat_biggen.yaml", "selfrat_eval/tasks/selfrat/utils.py"} <= names
    inst = run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel), "-q"]
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    # -S: no site processing, so the editable install's .pth files are not read; the venv's
    # site-packages is added as a plain path (for lm_eval), the wheel folder as a real site dir.
    purelib = sysconfig.get_paths()["purelib"]
    bootstrap = (
        f"import sys, site; sys.path.append({purelib!r}); site.addsitedir({str(target)!r}); "
        f"sys.path.remove({str(target)!r}); sys.path.insert(0, {str(target)!r}); "
        "import runpy; exec(sys.argv[1])"
    )
    proc = run([sys.executable, "-S", "-c", bootstrap, PROBE])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["patched"] and out["selfrat_tasks"] == EXPECTED_TASKS and out["hf"] is True
    assert out["indexed"][1] == str(target / "selfrat_eval" / "tasks")  # after lm-eval's own folder
    assert out["selfrat_yaml"].startswith(str(target / "selfrat_eval" / "tasks"))
    assert out["judge"] == "SelfratJudge"


def test_steps_aside_when_lm_eval_reads_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import lm_eval.tasks.manager as manager

    assert discovery.lm_eval_reads_entry_points(manager) is False  # lm-eval 0.4.13
    (tmp_path / "future_manager.py").write_text(
        "from importlib.metadata import entry_points\n"
        "PLUGINS = entry_points(group='lm_eval.tasks')\n"
        "class TaskManager:\n    def __init__(self, include_path=None):\n        self.include_path = include_path\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import future_manager

    assert discovery.lm_eval_reads_entry_points(future_manager) is True
    discovery.on_module_loaded("lm_eval.tasks.manager", future_manager)
    assert future_manager.TaskManager().include_path is None  # left alone


def test_patch_is_idempotent_and_keeps_explicit_path():
    fake = types.ModuleType("fake_manager")

    class TaskManager:
        def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
            self.include_path = include_path

    fake.TaskManager = TaskManager
    assert discovery.patch_task_manager(fake) is True
    assert discovery.patch_task_manager(fake) is False
    assert TaskManager().include_path == [task_dir()]
    assert TaskManager(include_path=["/x"]).include_path == [task_dir(), "/x"]
    assert TaskManager(include_path=str(task_dir())).include_path == [str(task_dir())]
    assert TaskManager(include_path="/x", include_defaults=False).include_path == "/x"
