"""Load layered YAML config: conf/base/*.yaml, then conf/<env>/*.yaml, then explicit overrides.

Mappings merge key by key; any other value (scalar or list) in a later layer replaces the earlier one,
and null over a mapping removes it (an overlay drops a target: ``models.targets.vip_promotion_90d: null``).
Then each ``models.targets.<t>`` is merged over ``models.defaults`` the same way.
The merged tree is parsed into the frozen ``Config`` and its references are checked, all before a
job touches data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from userscore.config.root import Config
from userscore.config.typed import KeyPath, Origins, parse_dataclass
from userscore.errors import ConfigError

DEFAULT_ENV = "local"
ENV_VARIABLE = "USERSCORE_ENV"
CONF_DIR_VARIABLE = "USERSCORE_CONF"
# Real config nests under ten levels; a deeper document is a mistake and would exhaust recursion when merged.
MAX_NESTING = 64


def project_root() -> Path:
    """The checkout this package was installed from (editable install) or the working directory."""
    candidate = Path(__file__).resolve().parents[3]
    return candidate if (candidate / "conf" / "base").is_dir() else Path.cwd()


def default_conf_dir() -> Path:
    return Path(os.environ.get(CONF_DIR_VARIABLE) or project_root() / "conf")


def load_config(
    env: str | None = None,
    conf_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
) -> Config:
    """Merge base + env overlay (+ overrides) and parse it into a validated ``Config``.

    Args:
        env: overlay folder under ``conf_dir``; defaults to $USERSCORE_ENV, then ``local``.
        conf_dir: folder holding ``base/`` and the overlays; defaults to $USERSCORE_CONF, then ./conf.
        overrides: a nested mapping applied last (command-line options, tests).
        root: folder that relative paths in the config resolve against; defaults to conf_dir's parent.
    """
    env = env or os.environ.get(ENV_VARIABLE) or DEFAULT_ENV
    conf_dir = Path(conf_dir) if conf_dir else default_conf_dir()
    base_dir, env_dir = conf_dir / "base", conf_dir / env
    if not base_dir.is_dir():
        raise ConfigError(str(base_dir), "<root>", "no such folder", "a folder of base YAML files")
    if not env_dir.is_dir():
        known = sorted(p.name for p in conf_dir.iterdir() if p.is_dir() and p.name != "base")
        raise ConfigError(str(env_dir), "<env>", f"no overlay folder for env {env!r}", f"one of {known}")

    # A key no file sets (a section missing everywhere) is reported against the base folder.
    origins = Origins(default=str(base_dir))
    merged: dict[str, Any] = {}
    for layer in (base_dir, env_dir):
        for path in sorted(layer.glob("*.yaml")):
            _merge(merged, _read_yaml(path), (), str(path), origins)
    if overrides:
        _check_nesting(overrides, "<override>")
        _merge(merged, _plain(overrides), (), "<override>", origins)

    _apply_target_defaults(merged, origins)
    root_dir = Path(root) if root else conf_dir.resolve().parent
    _merge(merged, {"env": env, "root": str(root_dir)}, (), "<loader>", origins)
    config = parse_dataclass(Config, merged, (), origins)
    for key_path, found, expected in config.reference_errors():
        raise origins.error(key_path, found, expected)
    return config.with_scored_tiers()


def _apply_target_defaults(merged: dict[str, Any], origins: Origins) -> None:
    """Merge each target's own keys over ``models.defaults`` (key by key): the defaults live in YAML only.

    A key taken from the defaults keeps the file that set it there, so an error names that file.
    """
    models = merged.get("models")
    if not isinstance(models, dict) or not isinstance(models.get("defaults"), Mapping):
        return
    targets = models.get("targets")
    if not isinstance(targets, dict):
        return
    for name, target in targets.items():
        if isinstance(target, dict):
            _fill(target, models["defaults"], ("models", "targets", str(name)), ("models", "defaults"), origins)


def _fill(into: dict[str, Any], defaults: Mapping[str, Any], path: KeyPath, source: KeyPath, origins: Origins):
    for key, value in defaults.items():
        key_path, from_path = (*path, str(key)), (*source, str(key))
        if key not in into:
            into[key] = _plain(value)
            _record_all_from(into[key], key_path, from_path, origins)
        elif isinstance(value, Mapping) and isinstance(into[key], dict):
            _fill(into[key], value, key_path, from_path, origins)


def _record_all_from(value: Any, path: KeyPath, source: KeyPath, origins: Origins) -> None:
    origins.record(path, origins.file_of(source))
    if isinstance(value, Mapping):
        for key, item in value.items():
            _record_all_from(item, (*path, str(key)), (*source, str(key)), origins)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "<file>", f"invalid YAML ({exc})", "a YAML mapping") from None
    except RecursionError:
        raise ConfigError(
            str(path), "<file>", "YAML nested too deeply to read", f"at most {MAX_NESTING} levels of nesting"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "<root>", f"{type(data).__name__}", "a YAML mapping of sections")
    _check_nesting(data, str(path))
    return data


def _check_nesting(data: Any, source: str) -> None:
    """Fail on a mapping or list nested deeper than MAX_NESTING (walked without recursion)."""
    stack: list[tuple[Any, KeyPath]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_NESTING:
            found = f"nesting deeper than {MAX_NESTING} levels"
            raise ConfigError(source, ".".join(path[:3]) + "...", found, f"at most {MAX_NESTING} levels of nesting")
        if isinstance(value, Mapping):
            stack.extend((item, (*path, str(key))) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(value))


def deep_merge(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: ``layer`` over ``base``, mappings merged key by key, anything else replaced (the rule
    the loader applies between files; it records where each value came from in ``_merge``)."""
    out = dict(base)
    for key, value in layer.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = deep_merge(out[key], value) if both else value
    return out


def _plain(value: Any) -> Any:
    """Turn nested mappings (possibly read-only) into plain dicts so they can be merged."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _merge(into: dict[str, Any], layer: Mapping[str, Any], path: KeyPath, source: str, origins: Origins):
    for key, value in layer.items():
        key_path = (*path, str(key))
        if value is None and isinstance(into.get(key), dict):
            # null over a mapping entry removes it: how an overlay drops a target, source or rule.
            del into[key]
            continue
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            # The mapping now holds this layer's keys: a check over several of them (min <= max, weights
            # with a positive sum) points at this layer's file.
            origins.record(key_path, source)
            _merge(into[key], value, key_path, source, origins)
            continue
        into[key] = _plain(value)
        _record_all(into[key], key_path, source, origins)


def _record_all(value: Any, path: KeyPath, source: str, origins: Origins) -> None:
    origins.record(path, source)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _record_all(item, (*path, str(key)), source, origins)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _record_all(item, (*path, str(i)), source, origins)
