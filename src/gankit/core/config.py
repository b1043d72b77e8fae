"""Typed dataclass configs: dict round-trips that reject unknown keys and wrong types, and `a.b=v` overrides.

Each component keeps its own dataclass with typed defaults next to it; this module only knows how to
move them to and from plain dicts (config.json, presets, checkpoints) and the command line.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from gankit.core.errors import GankitError


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(cfg)


def _allowed_types(tp: Any) -> tuple[type, ...]:
    """The runtime types a field annotated `tp` accepts (Optional/Union unpacked)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        out: tuple[type, ...] = ()
        for arg in typing.get_args(tp):
            out += _allowed_types(arg)
        return out
    if tp is type(None):
        return (type(None),)
    if origin is not None:
        return (origin,)
    return (tp,)


def check_value(where: str, tp: Any, value: Any) -> Any:
    """Return `value` coerced to field type `tp` (int -> float only), or raise GankitError naming `where`."""
    allowed = _allowed_types(tp)
    if isinstance(value, bool) and bool not in allowed:
        raise GankitError(f"{where} must be {_type_names(allowed)}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and float in allowed and int not in allowed:
        return float(value)
    if isinstance(value, allowed):
        return value
    raise GankitError(f"{where} must be {_type_names(allowed)}, got {value!r}")


def _type_names(allowed: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in allowed)


def from_dict(cls: type, data: dict, where: str = "") -> Any:
    """Build dataclass `cls` from `data`, recursing into nested dataclasses; unknown keys are errors."""
    if not isinstance(data, dict):
        raise GankitError(f"{where or 'config'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise GankitError(f"unknown config key {prefix}{unknown[0]}; known keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        path = f"{where}.{name}" if where else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, value, path)
        else:
            kwargs[name] = check_value(path, tp, value)
    return cls(**kwargs)


def merge(base: dict, update: dict) -> dict:
    """Recursive dict merge; `update` wins. Neither input is modified."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """`train.n_critic=5` -> {"train": {"n_critic": 5}}. Values parse as JSON, else stay strings."""
    if "=" not in text:
        raise GankitError(f"--set expects KEY=VALUE (e.g. train.n_critic=5), got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out
