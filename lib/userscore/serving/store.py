"""Read a published snapshot: one read-only SQLite connection per shard, reloaded when CURRENT moves.

Shard files never change once published, so they are opened ``immutable`` (no locks, no journal checks).
A newer snapshot is opened completely before it replaces the one in use; requests in flight finish on the
old connections (POSIX keeps a deleted file readable while it is open). No pyspark here.
"""

from __future__ import annotations

import heapq
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from userscore.serving import layout

logger = logging.getLogger("userscore.serve")


@dataclass(frozen=True)
class UserRecord:
    doc: dict[str, Any]
    restricted: dict[str, Any]
    segments: list[dict[str, Any]]


@dataclass(frozen=True)
class Change:
    commit_version: int
    user_id: str
    change_type: str
    commit_timestamp: str
    doc: dict[str, Any] | None
    restricted: dict[str, Any] | None


class Snapshot:
    """One published snapshot: its manifest and an open connection per shard."""

    def __init__(self, root: Path, snapshot_id: str):
        self.id = snapshot_id
        self.manifest = layout.read_manifest(root, snapshot_id)
        self.shards = int(self.manifest["shards"])
        folder = layout.versions_dir(root) / snapshot_id
        self._connections: list[sqlite3.Connection] = []
        try:
            for shard in range(self.shards):
                path = (folder / layout.shard_file(shard)).absolute()
                if not path.is_file():
                    raise FileNotFoundError(f"snapshot {snapshot_id}: {path.name} is missing")
                connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
                connection.execute("SELECT 1 FROM users LIMIT 1").fetchall()
                self._connections.append(connection)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections = []

    def _shard(self, user_id: str) -> sqlite3.Connection:
        return self._connections[layout.shard_of(user_id, self.shards)]

    def user(self, user_id: str) -> UserRecord | None:
        connection = self._shard(user_id)
        row = connection.execute("SELECT doc, restricted FROM users WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        document = json.loads(row[0])
        # Keyed by person (identity.resolve), a member's id finds the person's document; segments are the person's.
        key = document.get("user_id", user_id)
        segments = [
            {"family": family, "segment": segment, **json.loads(doc)}
            for family, segment, doc in self._shard(key).execute(
                "SELECT family, segment, doc FROM segment_members WHERE user_id = ? ORDER BY family", (key,)
            )
        ]
        return UserRecord(document, json.loads(row[1]), segments)

    def _first_rows(self, query: str, parameters: tuple, limit: int) -> list[tuple]:
        """The first ``limit`` rows of ``query`` over every shard, in the query's order: a lazy merge of the
        shards' cursors (each ordered by the query's leading columns)."""
        cursors = [c.execute(query, parameters) for c in self._connections]
        try:
            return list(islice(heapq.merge(*cursors), limit))
        finally:
            for cursor in cursors:
                cursor.close()

    def members(self, family: str, segment: str, after: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` members with user_id > ``after``, in user_id order."""
        query = (
            "SELECT user_id, doc FROM segment_members WHERE family = ? AND segment = ? AND user_id > ? ORDER BY user_id"
        )
        rows = self._first_rows(query, (family, segment, after), limit)
        return [{"user_id": user_id, **json.loads(doc)} for user_id, doc in rows]

    def changes(self, since: int, after: tuple[int, str] | None, limit: int) -> list[Change]:
        """Up to ``limit`` users whose last change is after version ``since`` (and after the key ``after``),
        in (version, user_id) order, each with its document in this snapshot unless deleted."""
        columns = (
            "c.commit_version, c.user_id, c.change_type, c.commit_timestamp, u.doc, u.restricted FROM changes c"
            " LEFT JOIN users u ON u.user_id = c.user_id AND c.change_type = 'upsert'"
        )
        order = "ORDER BY c.commit_version, c.user_id"
        if after is None:
            query, parameters = f"SELECT {columns} WHERE c.commit_version > ? {order}", (since,)
        else:
            query, parameters = f"SELECT {columns} WHERE (c.commit_version, c.user_id) > (?, ?) {order}", after
        rows = self._first_rows(query, parameters, limit)
        return [
            Change(v, u, t, ts, None if doc is None else json.loads(doc), None if extra is None else json.loads(extra))
            for v, u, t, ts, doc, extra in rows
        ]


class SnapshotHolder:
    """The snapshot in use; checks CURRENT at most every ``reload_seconds`` and switches when it moved."""

    def __init__(self, root: Path, reload_seconds: float):
        self.root = root
        self.reload_seconds = reload_seconds
        self._snapshot: Snapshot | None = None
        self._next_check = 0.0

    def get(self) -> Snapshot | None:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.reload_seconds
            self.refresh()
        return self._snapshot

    def refresh(self) -> None:
        try:
            wanted = layout.current_id(self.root)
        except (OSError, ValueError) as exc:
            logger.warning("cannot read %s: %s", self.root / layout.POINTER, exc)
            return
        if wanted is None:
            # Never published, or withdrawn (an erasure that could not rebuild it): stop serving the old one.
            if self._snapshot is not None:
                logger.warning("%s is gone: snapshot %s withdrawn", self.root / layout.POINTER, self._snapshot.id)
                self.close()
            return
        if self._snapshot is not None and self._snapshot.id == wanted:
            return
        try:
            opened = Snapshot(self.root, wanted)
        except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
            # Keep serving the snapshot in use; /ready shows which one that is.
            logger.error("cannot open snapshot %s (keeping %s): %s", wanted, self.current_id, exc)
            return
        previous, self._snapshot = self._snapshot, opened
        logger.info("serving snapshot %s", wanted)
        if previous is not None:
            previous.close()

    @property
    def current_id(self) -> str | None:
        return None if self._snapshot is None else self._snapshot.id

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
