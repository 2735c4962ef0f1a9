"""Strict parsing of merged YAML into frozen dataclasses.

Every error names the file that set the offending key, the dotted key path, what was found and what
was expected, so that a mistyped key fails at load time instead of deep inside a Spark job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from userscore.errors import ConfigError

KeyPath = tuple[str, ...]


class Origins:
    """Which file last set each key path, so errors can point at the right file."""

    def __init__(self, by_path: Mapping[KeyPath, str] | None = None, default: str = "<config>"):
        self._by_path = dict(by_path or {})
        self._default = default

    def record(self, path: KeyPath, source: str) -> None:
        self._by_path[path] = source

    def file_of(self, path: KeyPath) -> str:
        """The file that set ``path``, else the nearest parent that was set, else the default."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._by_path:
                return self._by_path[path[:end]]
        return self._default

    def error(self, path: KeyPath, found: str, expected: str) -> ConfigError:
        return ConfigError(self.file_of(path), ".".join(path) or "<root>", found, expected)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is dt.date:
        return "a date (YYYY-MM-DD)"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        return "a list of " + _type_name(get_args(tp)[0])
    if origin in (dict, Mapping):
        return "a mapping of " + _type_name(get_args(tp)[1])
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None)) + " (or null)"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    return str(tp)


def parse(tp: Any, value: Any, path: KeyPath, origins: Origins) -> Any:
    """Convert ``value`` to type ``tp``, raising ConfigError at the first mismatch."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(get_args(tp)):
            return None
        if len(args) == 1:
            return parse(args[0], value, path, origins)
        for arg in args:
            try:
                return parse(arg, value, path, origins)
            except ConfigError:
                continue
        raise origins.error(path, _describe(value), _type_name(tp))
    if origin is Literal:
        if value not in get_args(tp):
            raise origins.error(path, _describe(value), _type_name(tp))
        return value
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path, origins)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise origins.error(path, _describe(value), _type_name(tp))
        item_type = get_args(tp)[0]
        return tuple(parse(item_type, item, (*path, str(i)), origins) for i, item in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise origins.error(path, _describe(value), _type_name(tp))
        value_type = get_args(tp)[1]
        parsed = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise origins.error((*path, str(key)), _describe(key), "a string key")
            parsed[key] = parse(value_type, item, (*path, key), origins)
        return types.MappingProxyType(parsed)
    return _parse_scalar(tp, value, path, origins)


def _parse_scalar(tp: Any, value: Any, path: KeyPath, origins: Origins) -> Any:
    # bool is a subclass of int in Python: reject it explicitly where a number is expected.
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
    if tp is Any:
        return value
    raise origins.error(path, _describe(value), _type_name(tp))


def parse_dataclass(cls: type, value: Any, path: KeyPath, origins: Origins) -> Any:
    """Build a frozen dataclass from a mapping: unknown keys and missing required keys are errors."""
    if not isinstance(value, Mapping):
        raise origins.error(path, _describe(value), _type_name(cls))
    hints = get_type_hints(cls, include_extras=False)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise origins.error(
            (*path, str(unknown[0])),
            f"unknown key {unknown[0]!r}",
            "one of: " + ", ".join(sorted(fields)),
        )
    kwargs = {}
    for name, field in fields.items():
        if name in value:
            kwargs[name] = parse(hints[name], value[name], (*path, name), origins)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise origins.error(
                (*path, name), "nothing (key missing)", f"required key {name!r}: {_type_name(hints[name])}"
            )
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        # __post_init__ checks raise ValueError("key: message"); map it to the key when given.
        key, _, message = str(exc).partition(": ")
        if key in fields and message:
            raise origins.error((*path, key), _describe(kwargs.get(key)), message) from None
        raise origins.error(path, "an invalid combination", str(exc)) from None


def frozen(cls: type) -> type:
    """Decorator: a frozen, keyword-only dataclass (the shape of every config section)."""
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


__all__ = ["Origins", "parse", "parse_dataclass", "frozen", "KeyPath"]
