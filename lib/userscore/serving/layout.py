"""The snapshot on disk: shard assignment, file names, the manifest, the CURRENT pointer and pruning.

    <root>/CURRENT                      {"snapshot": "<id>"}: the snapshot being served
    <root>/versions/<id>/manifest.json  written last: a folder without it was never published
    <root>/versions/<id>/shard-00003.sqlite

Publishing writes CURRENT to a temporary name in the same folder and renames it over the old one
(``os.replace``, atomic on POSIX), so a reader sees the old id or the new one, never a partial file; the
folder it names is complete before the rename. No pyspark here: the API imports this module.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from userscore.config import Config

FORMAT = 1
POINTER = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
HASH_RULE = "crc32(UTF-8 user_id) mod shards"


def snapshot_root(config: Config) -> Path:
    """serving.snapshot.root: an absolute path, or a path under catalog.root (the warehouse) when relative."""
    root = Path(config.serving.snapshot.root)
    return root if root.is_absolute() else config.path(config.catalog.root) / root


def shard_of(user_id: str, shards: int) -> int:
    """The shard holding ``user_id``: the same number Spark's ``pmod(crc32(cast(user_id as binary)), n)``
    gives, so the build and the API agree without sharing state."""
    return zlib.crc32(user_id.encode("utf-8")) % shards


def shard_file(shard: int) -> str:
    return f"shard-{shard:05d}.sqlite"


def versions_dir(root: Path) -> Path:
    return root / VERSIONS


def new_snapshot_id(wide_version: int, now: float | None = None) -> str:
    """``20261101T023000Z-v12-1a2b3c``: sorts by build time; names the wide-table version it holds."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-v{wide_version}-{uuid.uuid4().hex[:6]}"


def write_json_atomically(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def publish(root: Path, snapshot_id: str) -> None:
    """Point CURRENT at ``snapshot_id`` (its manifest must exist: only complete snapshots are published)."""
    if not (versions_dir(root) / snapshot_id / MANIFEST).is_file():
        raise FileNotFoundError(f"snapshot {snapshot_id} has no {MANIFEST} under {versions_dir(root)}")
    replaced = current_id(root)
    write_json_atomically(root / POINTER, {"snapshot": snapshot_id})
    if replaced and replaced != snapshot_id and (versions_dir(root) / replaced).is_dir():
        # The grace period of a replaced snapshot runs from its replacement, not from its build.
        os.utime(versions_dir(root) / replaced)


def current_id(root: Path) -> str | None:
    """The published snapshot id, or None before the first publication."""
    try:
        text = (root / POINTER).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    value = json.loads(text).get("snapshot")
    if not isinstance(value, str) or "/" in value or value.startswith("."):
        raise ValueError(f"{root / POINTER}: {{'snapshot': '<id>'}} expected, got {text[:80]!r}")
    return value


def read_manifest(root: Path, snapshot_id: str) -> dict[str, Any]:
    manifest = json.loads((versions_dir(root) / snapshot_id / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"snapshot {snapshot_id}: manifest format {manifest.get('format')!r}, expected {FORMAT}")
    return manifest


def prune(root: Path, grace_seconds: float, now: float | None = None) -> list[str]:
    """Delete snapshot folders other than the current one last modified more than ``grace_seconds`` ago
    (replaced snapshots an API may still hold, and builds that died before publishing); return their ids.
    An API holding a deleted snapshot keeps reading it through its open files until it reloads."""
    now = time.time() if now is None else now
    keep = current_id(root)
    removed = []
    folder = versions_dir(root)
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        if entry.name == keep or not entry.is_dir():
            continue
        if now - entry.stat().st_mtime > grace_seconds:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def withdraw(root: Path) -> list[str]:
    """Unpublish: remove CURRENT, then every snapshot folder; return the folders' ids."""
    (root / POINTER).unlink(missing_ok=True)
    folder = versions_dir(root)
    removed = sorted(entry.name for entry in folder.iterdir() if entry.is_dir()) if folder.is_dir() else []
    for name in removed:
        shutil.rmtree(folder / name, ignore_errors=True)
    return removed
