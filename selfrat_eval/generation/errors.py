"""Errors raised by generation backends (kept torch-free so callers can catch them cheaply)."""

from __future__ import annotations


class BackendError(RuntimeError):
    """A generation backend cannot run (missing optional dependency, server error, ...)."""


class ModelLoadError(BackendError):
    """The judge model (or its tokenizer/adapter) cannot be loaded; the message names the path."""
