"""Curation hooks registered by name as ``"module:function"`` and imported only when used, so a
config names a format-specific function without the core importing that format's module."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def resolve(registry: Mapping[str, str], name: str | None, what: str) -> Callable[..., Any] | None:
    """The function ``registry`` maps ``name`` to (None for None); ``what`` names the kind of hook
    in the error for an unknown name."""
    if name is None:
        return None
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; known: {sorted(registry)}")
    module, _, attr = registry[name].partition(":")
    return getattr(importlib.import_module(module), attr)
