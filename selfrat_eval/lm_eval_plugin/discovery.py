"""What the start-up hook does once lm-eval is imported.

- ``lm_eval.tasks.manager`` loaded: wrap ``TaskManager.__init__`` so every task manager (``lm_eval
  run``, ``ls``, ``validate``, ``simple_evaluate``, user code) also indexes our task folder. The folder
  is put *before* the user's ``--include_path`` entries (later paths override earlier ones in
  lm-eval), it is only added when the built-in tasks are included, and it never replaces anything:
  built-in tasks keep resolving.
- ``lm_eval.models`` loaded (that import registers the built-in models): register ``selfrat-judge``
  as a lazy placeholder. Registering *after* the built-ins matters: ``get_model`` only imports
  ``lm_eval.models`` while the registry is empty, so an earlier registration would hide ``hf``.

Both step aside when lm-eval reads plugin entry points itself (our ``lm_eval.tasks`` /
``lm_eval.models`` entry points are declared in pyproject.toml) or the name is already taken.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

JUDGE_MODEL_NAME = "selfrat-judge"
JUDGE_MODEL_TARGET = "selfrat_eval.lm_eval_plugin.judge_model:SelfratJudge"
_PATCHED_FLAG = "_selfrat_eval_patched"


def hook_enabled() -> bool:
    return os.environ.get("SELFRAT_LM_EVAL_HOOK", "1").strip().lower() not in ("0", "false", "no", "off")


def lm_eval_reads_entry_points(module: ModuleType) -> bool:
    """True once lm-eval discovers plugins itself: its loader source then reads entry points.

    lm-eval 0.4.13 never calls ``entry_points(...)`` in the task manager, index or model modules;
    a release that does will find our declared entry points, and the hook must not add the same
    tasks/models a second time.
    """
    if os.environ.get("SELFRAT_LM_EVAL_FORCE_HOOK") == "1":
        return False
    names = [module.__name__]
    if module.__name__ == "lm_eval.tasks.manager":
        names.append("lm_eval.tasks._index")
    import importlib.util

    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        try:
            source = Path(spec.origin).read_text(encoding="utf-8")
        except OSError:
            continue
        if "entry_points(" in source and ("lm_eval.tasks" in source or "lm_eval.models" in source):
            return True
    return False


def _task_path() -> Path:
    from .paths import task_dir

    return task_dir()


def _with_our_path(include_path: Any, ours: Path) -> list[Any]:
    if include_path is None:
        paths: list[Any] = []
    elif isinstance(include_path, (list, tuple)):
        paths = list(include_path)
    else:
        paths = [include_path]
    resolved = set()
    for p in paths:
        try:
            resolved.add(Path(p).resolve())
        except (TypeError, OSError):
            pass
    if ours.resolve() in resolved:
        return paths
    return [ours, *paths]


def patch_task_manager(manager_module: ModuleType) -> bool:
    """Make ``TaskManager`` index our tasks; returns False when nothing was patched."""
    cls = getattr(manager_module, "TaskManager", None)
    if cls is None or getattr(cls.__init__, _PATCHED_FLAG, False):
        return False
    ours = _task_path()
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        import inspect

        try:
            bound = inspect.signature(original).bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)  # let lm-eval report the bad call
        arguments = bound.arguments
        if hook_enabled() and arguments.get("include_defaults", True):
            arguments["include_path"] = _with_our_path(arguments.get("include_path"), ours)
        original(*bound.args, **bound.kwargs)

    setattr(__init__, _PATCHED_FLAG, True)
    cls.__init__ = __init__
    return True


def register_judge_model(models_module: ModuleType) -> bool:
    """Register ``selfrat-judge`` lazily in lm-eval's model registry (after the built-ins)."""
    from lm_eval.api.registry import model_registry

    if JUDGE_MODEL_NAME in model_registry:
        return False
    model_registry.register(JUDGE_MODEL_NAME, target=JUDGE_MODEL_TARGET)
    return True


def on_module_loaded(name: str, module: ModuleType) -> None:
    """Called by the start-up hook right after ``name`` executed."""
    if not hook_enabled() or lm_eval_reads_entry_points(module):
        return
    if name == "lm_eval.tasks.manager":
        patch_task_manager(module)
    elif name == "lm_eval.models":
        register_judge_model(module)

