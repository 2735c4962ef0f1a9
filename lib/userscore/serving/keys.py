"""API keys: stored as SHA-256 digests with their scopes, from config and an environment variable.

Keys are random tokens of 256 bits (``new_key``), so one unsalted SHA-256 is enough to make the stored
digests useless to whoever reads the config; a presented key is hashed and looked up by digest, and the
digests compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from userscore.config.serving import ApiConfig, ApiKeySpec
from userscore.config.typed import Origins, parse
from userscore.errors import ConfigError

# The longest key accepted in a header: longer values are rejected before hashing.
MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh key: 43 URL-safe characters (256 random bits)."""
    return secrets.token_urlsafe(32)


def key_entry(name: str, key: str, scopes: tuple[str, ...]) -> str:
    """The YAML lines to paste under serving.api.keys for ``key`` (its digest only)."""
    return f"{name}:\n  sha256: {digest(key)}\n  scopes: [{', '.join(scopes)}]"


def env_entry(name: str, key: str, scopes: tuple[str, ...], variable: str) -> str:
    """The same entry as one environment assignment (for a shell, a container or a secret)."""
    return f"{variable}='{name}: {{sha256: {digest(key)}, scopes: [{', '.join(scopes)}]}}'"


def env_keys(variable: str, environ: Mapping[str, str] | None = None) -> Mapping[str, ApiKeySpec]:
    """Keys given in the environment variable ``variable`` (a YAML or JSON mapping like serving.api.keys);
    ConfigError naming the variable and the key path on anything else."""
    text = (os.environ if environ is None else environ).get(variable, "").strip()
    if not text:
        return {}
    source = f"${variable}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        # The value may hold keys' digests: say where, never echo it.
        raise ConfigError(
            source, "<value>", "text that is not YAML or JSON", "a mapping name -> {sha256, scopes}"
        ) from None
    return parse(Mapping[str, ApiKeySpec], data, (), Origins(default=source))


class KeyRing:
    """The configured keys by digest."""

    def __init__(self, specs: Mapping[str, ApiKeySpec]):
        self._by_digest = {spec.sha256: ApiKey(name, frozenset(spec.scopes)) for name, spec in specs.items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` hashes to, or None (also for an empty or oversized value)."""
        if not presented or len(presented) > MAX_KEY_LENGTH:
            return None
        wanted = digest(presented)
        for stored, key in self._by_digest.items():
            if hmac.compare_digest(stored, wanted):
                return key
        return None


def load_keys(api: ApiConfig, environ: Mapping[str, str] | None = None) -> KeyRing:
    """serving.api.keys with the environment's keys over them (by name); ConfigError when none is left or
    two names share a digest (their scopes would be ambiguous)."""
    specs = {**api.keys, **env_keys(api.keys_env, environ)}
    if not specs:
        raise ConfigError(
            "conf serving.api.keys", "serving.api.keys", "no API key", f"at least one key in conf or ${api.keys_env}"
        )
    names_by_digest: dict[str, list[str]] = {}
    for name, spec in specs.items():
        names_by_digest.setdefault(spec.sha256, []).append(name)
    shared = [names for names in names_by_digest.values() if len(names) > 1]
    if shared:
        raise ConfigError(
            "conf serving.api.keys", "serving.api.keys", f"keys {shared[0]} with one digest", "one digest per key"
        )
    return KeyRing(specs)
