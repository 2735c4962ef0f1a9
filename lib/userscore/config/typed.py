"""Strict parsing of merged YAML into frozen dataclasses.

Every error names the file that set the offending key, the dotted key path, what was found and what
was expected, so that a mistyped key fails at load time instead of deep inside a Spark job.

Number settings declare their bounds on the field (``windows: tuple[Days, ...]``, ``weight: NonNegative``,
``Annotated[int, Range(2, 20)]``); every float is finite and every integer fits in 64 bits. Checks that
relate several fields (min <= max, ordered cuts, weights with a positive sum) stay in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from userscore.errors import ConfigError

KeyPath = tuple[str, ...]

# Every integer setting ends up in Spark (a long) or numpy (int64): larger values fail deep inside a job.
_INT64 = (-(2**63), 2**63 - 1)


@dataclasses.dataclass(frozen=True)
class Range:
    """A declared bound on a number setting, checked at load: ``Annotated[int, Range(1)]``.

    Bounds are inclusive unless ``low_open`` / ``high_open``; None leaves that side unbounded. Floats are
    also always finite (see ``_parse_scalar``), so an unbounded side never admits .inf or .nan.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return low_ok and high_ok

    def describe(self, base: str) -> str:
        """``base`` ("an integer", "a number") with the bound: "a number in [0, 1]", "an integer >= 1"."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{base} in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{base} {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{base} {'<' if self.high_open else '<='} {_num(self.high)}"
        return base


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# The kinds of number settings, declared on the field (``weight: NonNegative = 0.4``) so every section
# checks them the same way and the error names the key and the bound.
MAX_DAYS = 36_525  # 100 years: day counts stay far from Spark's int date arithmetic limits
Share = Annotated[float, Range(0.0, 1.0)]  # shares, probabilities, rates, AUC
Positive = Annotated[float, Range(0.0, low_open=True)]  # amounts, means, half-lives
NonNegative = Annotated[float, Range(0.0)]  # weights, penalties, tolerances, thresholds
Count = Annotated[int, Range(1)]  # sizes, iterations, rows, snapshots, top-k
Days = Annotated[int, Range(1, MAX_DAYS)]  # windows, horizons, look-backs


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
    if origin is Annotated:
        base, *metadata = get_args(tp)
        name = _type_name(base)
        for item in metadata:
            if isinstance(item, Range):
                name = item.describe(name)
        return name
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
    """Convert ``value`` to type ``tp``, raising ConfigError at the first mismatch or violated Range."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metadata = get_args(tp)
        parsed = parse(base, value, path, origins)
        for item in metadata:
            if isinstance(item, Range) and not item.holds(parsed):
                raise origins.error(path, _describe(value), item.describe(_type_name(base)))
        return parsed
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(get_args(tp)):
            return None
        if len(args) == 1:
            try:
                return parse(args[0], value, path, origins)
            except ConfigError as exc:
                # An optional number or string: say that null is the other choice.
                here = exc.key_path == (".".join(path) or "<root>")
                if not here or dataclasses.is_dataclass(args[0]) or len(args) == len(get_args(tp)):
                    raise
                raise origins.error(path, exc.found, f"{exc.expected} (or null)") from None
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
        if not _INT64[0] <= value <= _INT64[1]:
            raise origins.error(path, _describe(value), "an integer that fits in 64 bits")
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        # NaN would pass every comparison-based check silently (nan > x and nan < x are both false),
        # and inf turns bounds off: no float setting accepts either.
        try:
            number = float(value)
        except OverflowError:  # an integer literal beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise origins.error(path, _describe(value), "a finite number (not .nan or .inf)")
        return number
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
    hints = get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get(DERIVED)}
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
                (*path, name), f"missing key {name!r}", f"required key {name!r}: {_type_name(hints[name])}"
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


# Field metadata key of a field the loader fills from another section (not a YAML key).
DERIVED = "derived"


def frozen(cls: type) -> type:
    """Decorator: a frozen, keyword-only dataclass (the shape of every config section)."""
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


__all__ = [
    "DERIVED",
    "Count",
    "Days",
    "KeyPath",
    "MAX_DAYS",
    "NonNegative",
    "Origins",
    "Positive",
    "Range",
    "Share",
    "frozen",
    "parse",
    "parse_dataclass",
]
