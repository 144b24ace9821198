"""Shipped recipes: names for ``selfrat train --config``, ``selfrat recipes``, and the same in a
real wheel install (no checkout next to the package)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from selfrat_eval.cli import main
from selfrat_eval.training.recipes import (
    RecipeNotFound,
    find_recipe,
    list_recipes,
    recipe_dir,
    resolve_config,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_RECIPES = {"sre-smollm2-cpu", "sre-llama3.1-8b", "sre-llama3.1-8b-lora-1gpu", "vllm-tp"}
ACCELERATE = {"accelerate/cpu-ddp", "accelerate/fsdp", "accelerate/zero3"}


def test_names_and_resolution(tmp_path: Path) -> None:
    recipes = {r.name: r for r in list_recipes()}
    assert TRAIN_RECIPES | ACCELERATE <= set(recipes)
    assert all(recipes[n].kind == "accelerate" for n in ACCELERATE)
    assert all(recipes[n].kind == "train" for n in TRAIN_RECIPES)
    cpu = recipe_dir() / "sre-smollm2-cpu.yaml"
    for spelling in ("sre-smollm2-cpu", "sre-smollm2-cpu.yaml", "training/sre-smollm2-cpu.yaml"):
        assert find_recipe(spelling) == cpu
    assert find_recipe("accelerate/cpu-ddp").name == "cpu-ddp.yaml"
    mine = tmp_path / "sre-smollm2-cpu.yaml"  # an existing file wins over a shipped name
    mine.write_text("model: {name_or_path: x}\n")
    assert resolve_config(str(mine)) == mine
    with pytest.raises(RecipeNotFound, match="shipped: .*sre-smollm2-cpu"):
        resolve_config("nope")


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "sre-smollm2-cpu" in out and str(recipe_dir() / "accelerate" / "fsdp.yaml") in out
    assert main(["recipes", "--path", "accelerate/cpu-ddp"]) == 0
    assert capsys.readouterr().out.strip() == str(recipe_dir() / "accelerate" / "cpu-ddp.yaml")
    assert main(["recipes", "--json"]) == 0
    assert {r["name"] for r in json.loads(capsys.readouterr().out)} >= TRAIN_RECIPES
    assert main(["train", "--config", "sre-smollm2-cpu", "--dry-run", "sampling.n=6"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["output_dir"] == "runs/sre-smollm2-cpu" and cfg["sampling"]["n"] == 6
    assert main(["train", "--config", "no-such-recipe", "--dry-run"]) == 2
    assert "no shipped recipe" in capsys.readouterr().err
    assert main(["recipes", "--path", "nope"]) == 2


PROBE = """
import json, sys
import selfrat_eval
from selfrat_eval.cli import main
from selfrat_eval.training.recipes import list_recipes, recipe_dir
print(json.dumps({"package": selfrat_eval.__file__, "dir": str(recipe_dir()),
                  "names": [r.name for r in list_recipes()]}))
sys.exit(main(["train", "--config", "sre-llama3.1-8b", "--dry-run"]))
"""


@pytest.mark.slow
def test_wheel_ships_recipes(tmp_path: Path) -> None:
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation",
         "-w", str(wheel_dir), "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]  # hatchling comes with the dev extra
    wheel = next(wheel_dir.glob("selfrat_eval-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for n in TRAIN_RECIPES | ACCELERATE:
        assert f"selfrat_eval/recipes/{n}.yaml" in names, n
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel), "-q"],
        capture_output=True, text=True, timeout=300,
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    # -S: the editable install's .pth is not read; the wheel folder comes first on sys.path, the
    # venv's site-packages last (for yaml etc.); cwd has no training/ folder.
    purelib = sysconfig.get_paths()["purelib"]
    bootstrap = f"import sys; sys.path.insert(0, {str(target)!r}); sys.path.append({purelib!r}); exec(sys.argv[1])"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", bootstrap, PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    info = json.loads(lines[0])
    assert info["package"].startswith(str(target)) and info["dir"] == str(target / "selfrat_eval" / "recipes")
    assert TRAIN_RECIPES | ACCELERATE <= set(info["names"])
    cfg = json.loads("\n".join(lines[1:]))
    assert cfg["model"]["name_or_path"] == "meta-llama/Llama-3.1-8B-Instruct"
