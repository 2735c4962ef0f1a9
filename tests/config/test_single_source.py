"""conf/base is the one place a setting's value lives: Python config types carry no copy of it.

The walk covers every dataclass reachable from ``Config``. A field may default only to a neutral
"absent" value (None, False, "", an empty tuple or mapping) that means "not given" for an optional
key; any other default would be a second copy of a setting that conf/base must spell out.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import pytest
from tests.conftest import REPO

from userscore.config import load_config
from userscore.config.root import Config
from userscore.errors import ConfigError

# SQL's convention, not a setting: a column is nullable unless declared NOT NULL.
_ALLOWED = {("ColumnSpec", "nullable")}


def _dataclasses(tp: Any) -> Iterator[type]:
    """The dataclass types inside a type annotation (through Optional, Annotated, tuples, mappings)."""
    if dataclasses.is_dataclass(tp):
        yield tp
        return
    origin = get_origin(tp)
    if origin in (Annotated,):
        yield from _dataclasses(get_args(tp)[0])
    elif origin in (Union, types.UnionType, tuple, list, dict, Mapping):
        for arg in get_args(tp):
            yield from _dataclasses(arg)


def _reachable(root: type) -> list[type]:
    seen: dict[type, None] = {}
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen[cls] = None
        for hint in get_type_hints(cls, include_extras=True).values():
            stack.extend(_dataclasses(hint))
    return list(seen)


def _neutral(field: dataclasses.Field) -> bool:
    if field.default is not dataclasses.MISSING:
        value = field.default
        return value is None or value is False or (isinstance(value, str | tuple) and not value)
    if field.default_factory is not dataclasses.MISSING:
        made = field.default_factory()
        return isinstance(made, Mapping | tuple | list) and not made
    return True


def test_the_walk_reaches_nested_sections_and_items():
    names = {cls.__name__ for cls in _reachable(Config)}
    assert {"GBTParams", "TargetDefaults", "Band", "AlertRule", "ColumnSpec", "ErasureConfig"} <= names


def test_no_config_field_defaults_to_a_setting():
    offending = [
        f"{cls.__module__}.{cls.__name__}.{f.name} = {f.default if f.default is not dataclasses.MISSING else '...'}"
        for cls in _reachable(Config)
        for f in dataclasses.fields(cls)
        if not _neutral(f) and (cls.__name__, f.name) not in _ALLOWED
    ]
    assert offending == []


def test_neutral_means_absent():
    def field(**kwargs):
        return dataclasses.field(**kwargs)

    assert [_neutral(field(default=v)) for v in (None, False, "", ())] == [True] * 4
    assert [_neutral(field(default=v)) for v in (0, 0.0, True, "x", (1,), 0.1)] == [False] * 6
    assert (_neutral(field(default_factory=dict)), _neutral(field(default_factory=lambda: {"a": 1}))) == (True, False)


@pytest.mark.parametrize("section", ["spark", "models", "btyd"])
def test_a_section_missing_from_conf_base_fails_naming_the_key(tmp_path, section):
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    for path in (REPO / "conf" / "base").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if text.startswith(f"{section}:") or f"\n{section}:" in text:
            lines = text.splitlines()
            start = next(i for i, line in enumerate(lines) if line.startswith(f"{section}:"))
            end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "#")), len(lines))
            text = "\n".join(lines[:start] + lines[end:]) + "\n"
        (conf / "base" / path.name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    err = caught.value
    assert (err.file, err.key_path, err.found) == (str(conf / "base"), section, f"missing key {section!r}")
    assert err.expected.startswith(f"required key {section!r}: a mapping (")


def test_a_setting_missing_from_the_target_defaults_fails_naming_the_file_and_key(tmp_path):
    conf = tmp_path / "conf"
    (conf / "local").mkdir(parents=True)
    (conf / "base").mkdir()
    for path in (REPO / "conf" / "base").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "models.yaml":
            assert "      max_depth: 5\n" in text
            text = text.replace("      max_depth: 5\n", "")
        (conf / "base" / path.name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    err = caught.value
    # The defaults are a typed section of their own: the error points at them, not at a target.
    assert (err.key_path, err.found) == ("models.defaults.gbt.max_depth", "missing key 'max_depth'")
    assert err.file == str(conf / "base" / "models.yaml")
