"""Config section ``serving``: the look-up API's snapshot and its HTTP settings (conf/base/serving.yaml).

``snapshot``: where `userscore snapshot` materialises the wide table, the segment members and the wide
table's Change Data Feed as SQLite shards (docs/serving.md), how many shards, how many wide-table versions
of changes each snapshot carries and how long replaced snapshots stay on disk. ``api``: where
`userscore serve` listens, page sizes and limits, and the API keys (SHA-256 digests, never the keys).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from typing import Annotated, Literal

from userscore.config.typed import Count, Range, frozen

Scope = Literal["scores:read", "segments:read", "restricted:read"]
SCOPES: tuple[str, ...] = ("scores:read", "segments:read", "restricted:read")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# SQLite opens every shard once per snapshot: thousands of files would exhaust file descriptors.
Shards = Annotated[int, Range(1, 1024)]
Port = Annotated[int, Range(1, 65535)]


@frozen
class ApiKeySpec:
    """One API key: the hex SHA-256 digest of the key (the key itself is never stored) and its scopes."""

    sha256: str
    scopes: tuple[Scope, ...]

    def __post_init__(self):
        if not _DIGEST.match(self.sha256):
            raise ValueError("sha256: the 64 lower-case hex digits of the key's SHA-256 (`userscore serve --new-key`)")
        if not self.scopes:
            raise ValueError(f"scopes: at least one of {list(SCOPES)}")


@frozen
class SnapshotConfig:
    """``root``: folder of ``versions/<id>/`` and the ``CURRENT`` pointer (relative: under catalog.root);
    ``changes_versions``: how many of
    the wide table's latest versions of Change Data Feed a snapshot carries; ``grace_minutes``: how long a
    replaced or abandoned snapshot folder stays before a later build deletes it."""

    root: str
    shards: Shards
    changes_versions: Count
    grace_minutes: Annotated[int, Range(0)]


@frozen
class ApiConfig:
    host: str
    port: Port
    reload_seconds: Annotated[float, Range(0.0, 3600.0)]
    page_size: Count
    max_page_size: Count
    user_id_pattern: str
    max_url_bytes: Annotated[int, Range(256, 65536)]
    stale_hours: Count
    log_level: Literal["debug", "info", "warning", "error"]
    access_log: bool
    keys_env: str
    keys: Mapping[str, ApiKeySpec] = field(default_factory=dict)

    def __post_init__(self):
        if self.page_size > self.max_page_size:
            raise ValueError(f"page_size: at most max_page_size ({self.max_page_size}), got {self.page_size}")
        try:
            re.compile(self.user_id_pattern)
        except re.error as exc:
            raise ValueError(f"user_id_pattern: a regular expression ({exc})") from None
        if not (self.user_id_pattern.startswith("^") and self.user_id_pattern.endswith("$")):
            raise ValueError("user_id_pattern: anchored with ^ and $ (a whole-id match)")
        bad = [name for name in self.keys if not _KEY_NAME.match(name)]
        if bad:
            raise ValueError(f"keys: key names of letters, digits, '_', '.', '-', got {bad}")


@frozen
class ServingConfig:
    snapshot: SnapshotConfig
    api: ApiConfig
