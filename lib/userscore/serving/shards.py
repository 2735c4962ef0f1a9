"""Write a snapshot's rows into SQLite shards from the Spark tasks, one file per shard.

The users' documents, their segment memberships and their last changes are one DataFrame of
``ROW_SCHEMA`` rows (``kind`` tells them apart), hash-partitioned by shard: every row of a shard is in one
task, which builds the shard's file on local disk (sequential inserts in key order, no journal), then
copies it beside its final name and renames it, so a retried task replaces a file whole. Only one summary
per shard (its row counts) comes back to the driver.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.serving.layout import shard_file

USERS, SEGMENTS, CHANGES = 0, 1, 2
KINDS = {USERS: "users", SEGMENTS: "segment_members", CHANGES: "changes"}
# user_id; s1/s2: family/segment of a membership, type/commit time of a user's last change; n1: its commit
# version; body: the JSON document (a membership's strategy, channel, priority, control flag); extra: the
# restricted tags' JSON.
ROW_SCHEMA = T.StructType(
    [
        T.StructField("shard", T.IntegerType(), False),
        T.StructField("kind", T.IntegerType(), False),
        T.StructField("user_id", T.StringType(), False),
        T.StructField("s1", T.StringType()),
        T.StructField("s2", T.StringType()),
        T.StructField("n1", T.LongType()),
        T.StructField("body", T.StringType()),
        T.StructField("extra", T.StringType()),
    ]
)
DDL = (
    "CREATE TABLE users (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL, restricted TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE segment_members (family TEXT NOT NULL, segment TEXT NOT NULL, user_id TEXT NOT NULL,"
    " doc TEXT NOT NULL, PRIMARY KEY (family, segment, user_id)) WITHOUT ROWID",
    "CREATE TABLE changes (user_id TEXT PRIMARY KEY, commit_version INTEGER NOT NULL, change_type TEXT NOT NULL,"
    " commit_timestamp TEXT NOT NULL) WITHOUT ROWID",
)
INDEXES = (
    "CREATE INDEX segment_members_by_user ON segment_members (user_id)",
    "CREATE INDEX changes_by_version ON changes (commit_version, user_id)",
)
_INSERT = {
    USERS: "INSERT INTO users VALUES (?, ?, ?)",
    SEGMENTS: "INSERT INTO segment_members VALUES (?, ?, ?, ?)",
    CHANGES: "INSERT INTO changes VALUES (?, ?, ?, ?)",
}
_BATCH = 5_000


def shard_column(shards: int) -> F.Column:
    """``pmod(crc32(UTF-8 user_id), shards)``: :func:`userscore.serving.layout.shard_of` in Spark."""
    return F.pmod(F.crc32(F.col("user_id").cast("binary")), F.lit(shards)).cast("int")


def _values(kind: int, row) -> tuple:
    if kind == USERS:
        return (row.user_id, row.body, row.extra)
    if kind == SEGMENTS:
        return (row.s1, row.s2, row.user_id, row.body)
    return (row.user_id, row.n1, row.s1, row.s2)


def create_shard(path: Path) -> None:
    """An empty shard: the tables and indexes of a full one."""
    connection = sqlite3.connect(path)
    try:
        for statement in (*DDL, *INDEXES):
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def _finish(connection: sqlite3.Connection, local: Path, directory: str, shard: int) -> None:
    connection.commit()
    for statement in INDEXES:
        connection.execute(statement)
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    final = Path(directory) / shard_file(shard)
    staged = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    shutil.copyfile(local, staged)
    os.replace(staged, final)
    local.unlink()


def write_partition(directory: str, rows: Iterable) -> Iterator[tuple[int, int, int, int]]:
    """Write every shard of a partition (rows sorted by shard, kind, key); yield (shard, users,
    memberships, changes) per shard written."""
    scratch = Path(tempfile.mkdtemp(prefix="userscore-snapshot-"))
    connection, current, counts, pending, pending_kind = None, None, [0, 0, 0], [], None
    try:
        for row in rows:
            if row.shard != current:
                if connection is not None:
                    connection.executemany(_INSERT[pending_kind], pending)
                    _finish(connection, scratch / shard_file(current), directory, current)
                    yield (current, *counts)
                current, counts, pending, pending_kind = row.shard, [0, 0, 0], [], None
                connection = sqlite3.connect(scratch / shard_file(current))
                connection.execute("PRAGMA journal_mode = OFF")
                connection.execute("PRAGMA synchronous = OFF")
                for statement in DDL:
                    connection.execute(statement)
            if row.kind != pending_kind or len(pending) >= _BATCH:
                if pending:
                    connection.executemany(_INSERT[pending_kind], pending)
                pending, pending_kind = [], row.kind
            pending.append(_values(row.kind, row))
            counts[row.kind] += 1
        if connection is not None:
            if pending:
                connection.executemany(_INSERT[pending_kind], pending)
            _finish(connection, scratch / shard_file(current), directory, current)
            yield (current, *counts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_shards(rows: DataFrame, directory: Path, shards: int) -> dict[int, tuple[int, int, int]]:
    """Write ``rows`` (``ROW_SCHEMA``) into ``directory/shard-NNNNN.sqlite``: one Spark task writes each
    shard whole (hash partitioning may give a task two); shards without rows get an empty file.
    Returns shard -> (users, memberships, changes)."""
    ordered = rows.repartition(shards, "shard").sortWithinPartitions("shard", "kind", "n1", "s1", "s2", "user_id")
    written = ordered.rdd.mapPartitions(partial(write_partition, str(directory))).collect()
    counts = {shard: (users, members, changes) for shard, users, members, changes in written}
    for leftover in directory.glob(".shard-*"):  # copies of task attempts killed before their rename
        leftover.unlink()
    for shard in range(shards):
        if shard not in counts:
            create_shard(directory / shard_file(shard))
            counts[shard] = (0, 0, 0)
    return counts
