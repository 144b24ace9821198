"""Command-line options generated from config dataclasses, so a default is written exactly once.

A field documents itself with ``option(help=..., ...)`` metadata; :func:`add_options` turns every
field of a (possibly nested) dataclass into an argparse option whose default is the field's
default, and :func:`config_from_args` builds the dataclass back from the parsed namespace.
Nested dataclass fields become option groups; their options are not prefixed unless the nested
field asks for it (``option(prefix="...")``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any


def option(
    help: str,  # noqa: A002 - argparse's name
    *,
    flag: str | None = None,
    choices: typing.Sequence[str] | None = None,
    required: bool = False,
    negate: str | None = None,
    prefix: str | None = None,
    cli: bool = True,
) -> dict[str, Any]:
    """Field metadata. ``negate="--no-x"`` makes a True-by-default bool a switch that turns it off;
    ``cli=False`` keeps a field out of the command line."""
    return {
        "help": help,
        "flag": flag,
        "choices": tuple(choices) if choices else None,
        "required": required,
        "negate": negate,
        "prefix": prefix,
        "cli": cli,
    }


def _plain(tp: Any) -> tuple[Any, bool]:
    """(underlying type, optional?) of ``X | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def _dest(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def _field_dest(f: dataclasses.Field, prefix: str) -> str:
    """Namespace key of a field: its flag's name when it has one (``--strategy``), else its own."""
    flag = f.metadata.get("flag")
    return flag.lstrip("-").replace("-", "_") if flag else _dest(prefix, f.name)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def add_options(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "", title: str | None = None) -> None:
    hints = typing.get_type_hints(cls)
    group: Any = parser.add_argument_group(title) if title else parser
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", True) or "help" not in meta:
            continue
        tp, _ = _plain(hints[f.name])
        if dataclasses.is_dataclass(tp):
            add_options(parser, tp, prefix=_dest(prefix, meta.get("prefix") or ""), title=meta["help"])
            continue
        dest = _field_dest(f, prefix)
        flag = meta.get("flag") or "--" + dest.replace("_", "-")
        default = _default(f)
        kwargs: dict[str, Any] = {"dest": dest, "help": meta["help"]}
        if tp is bool:
            if meta.get("negate"):
                group.add_argument(meta["negate"], action="store_false", default=default, **kwargs)
            else:
                group.add_argument(flag, action="store_true", default=default, **kwargs)
            continue
        if typing.get_origin(tp) in (tuple, list):
            kwargs["nargs"] = "+"
            tp = typing.get_args(tp)[0] if typing.get_args(tp) else str
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        if meta.get("required"):
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if default not in (None, (), []) and "%(default)" not in kwargs["help"]:
                kwargs["help"] += " (default: %(default)s)"
        group.add_argument(flag, type=tp if tp in (int, float, str) else str, **kwargs)


def config_from_args(cls: type, args: argparse.Namespace | Mapping[str, Any], *, prefix: str = "") -> Any:
    """The dataclass ``cls`` from parsed options (fields without an option keep their default)."""
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, _ = _plain(hints[f.name])
        meta = f.metadata
        if dataclasses.is_dataclass(tp) and meta.get("cli", True) and "help" in meta:
            kwargs[f.name] = config_from_args(tp, values, prefix=_dest(prefix, meta.get("prefix") or ""))
            continue
        dest = _field_dest(f, prefix)
        if dest in values and meta.get("cli", True):
            value = values[dest]
            if isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    return cls(**kwargs)


def to_plain(value: Any) -> Any:
    """Nested dataclasses/tuples -> JSON-able dicts/lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def from_plain(cls: type, data: Mapping[str, Any]) -> Any:
    """Inverse of :func:`to_plain` for configs (lists become tuples where the field is a tuple)."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for name, value in data.items():
        if name not in names:
            continue
        tp, _ = _plain(hints[name])
        if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
            kwargs[name] = from_plain(tp, value)
        elif typing.get_origin(tp) is tuple and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
