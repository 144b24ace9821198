"""Training recipes and accelerate launch configs shipped inside the package.

A wheel carries the repository's ``training/`` folder as ``selfrat_eval/recipes`` (hatch
force-include); an editable install or a checkout reads ``training/`` next to the package. So
``selfrat train --config sre-smollm2-cpu`` works after ``pip install selfrat-eval``, and
``selfrat recipes`` lists every recipe with its path (``--path NAME`` prints one path, e.g. for
``accelerate launch --config_file "$(selfrat recipes --path accelerate/cpu-ddp)"``).

Names are paths relative to the recipe folder without ``.yaml``: ``sre-smollm2-cpu``,
``accelerate/zero3``. ``--config`` also accepts ``NAME.yaml`` and ``training/NAME.yaml`` (the
path used in a checkout), and any existing file path wins over a shipped name.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../selfrat_eval


class RecipeNotFound(FileNotFoundError):
    """Neither a file nor a shipped recipe name; the message lists the names."""


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str  # "train" (a selfrat train --config) or "accelerate" (an accelerate --config_file)
    path: Path
    summary: str


def recipe_dir() -> Path:
    """The folder holding the shipped recipes (wheel: ``selfrat_eval/recipes``; checkout:
    ``training/``)."""
    for candidate in (_PACKAGE_DIR / "recipes", _PACKAGE_DIR.parent / "training"):
        if (candidate / "accelerate").is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise FileNotFoundError(
        f"selfrat-eval recipes not found next to {_PACKAGE_DIR} "
        "(expected selfrat_eval/recipes in a wheel or training/ in a checkout); reinstall selfrat-eval"
    )


def _summary(path: Path) -> str:
    """The first comment line of a recipe."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def list_recipes() -> list[Recipe]:
    root = recipe_dir()
    out = []
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root).with_suffix("").as_posix()
        kind = "accelerate" if rel.startswith("accelerate/") else "train"
        out.append(Recipe(rel, kind, path, _summary(path)))
    return out


def find_recipe(name: str) -> Path:
    """Path of a shipped recipe by name (``sre-smollm2-cpu``, ``sre-smollm2-cpu.yaml``,
    ``training/sre-smollm2-cpu.yaml``, ``accelerate/fsdp``)."""
    key = name.strip().removeprefix("./").removeprefix("training/")
    key = key.removesuffix(".yaml").removesuffix(".yml")
    recipes = list_recipes()
    for r in recipes:
        if r.name == key:
            return r.path
    names = ", ".join(r.name for r in recipes)
    raise RecipeNotFound(f"{name}: no such file and no shipped recipe of that name (shipped: {names})")


def resolve_config(value: str) -> Path:
    """``--config`` value -> file: an existing path as given, else a shipped recipe name."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    return find_recipe(value)


# ---- ``selfrat recipes`` ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        if args.path:
            print(find_recipe(args.path))
            return 0
        recipes = list_recipes()
    except FileNotFoundError as exc:
        print(f"selfrat recipes: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"name": r.name, "kind": r.kind, "path": str(r.path), "summary": r.summary} for r in recipes], indent=1))
        return 0
    width = max(len(r.name) for r in recipes)
    for kind, title in (("train", "training recipes (selfrat train --config NAME)"),
                        ("accelerate", "accelerate configs (accelerate launch --config_file PATH)")):
        print(f"{title}:")
        for r in recipes:
            if r.kind == kind:
                print(f"  {r.name:<{width}}  {r.path}")
                if r.summary:
                    print(f"  {'':<{width}}  {r.summary}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recipes",
        help="list the shipped training recipes and accelerate configs with their paths",
        description="Training recipes (selfrat train --config NAME) and accelerate launch configs "
        "shipped with the package, with their paths.",
    )
    p.add_argument("--path", metavar="NAME", help="print only the path of recipe NAME (e.g. accelerate/cpu-ddp)")
    p.add_argument("--json", action="store_true", help="machine-readable list")
    p.set_defaults(func=run)
