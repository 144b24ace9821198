"""Locate the lm-eval task folder in wheel installs and in editable installs / checkouts."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../selfrat_eval


def task_dir() -> Path:
    """The folder holding the ``selfrat_*`` task YAMLs.

    A wheel ships them as ``selfrat_eval/tasks`` (hatch force-include); an editable install or a
    source checkout imports ``selfrat_eval`` from the repository, where they are the top-level
    ``tasks/`` folder next to the package.
    """
    for candidate in (_PACKAGE_DIR / "tasks", _PACKAGE_DIR.parent / "tasks"):
        if (candidate / "selfrat").is_dir():
            return candidate
    raise FileNotFoundError(
        f"selfrat-eval lm-eval tasks not found next to {_PACKAGE_DIR} "
        "(expected selfrat_eval/tasks in a wheel or tasks/ in a checkout); reinstall selfrat-eval"
    )
