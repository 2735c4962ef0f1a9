"""Materialise the look-up snapshot: the wide table at one version, the segment members of one scoring
date and the wide table's recent Change Data Feed, as SQLite shards in a new folder, then publish it.

Any readable wide-table-shaped source works (``source``): the daily build reads tags.user_tag_wide after
`score`; a streaming stage refreshes the snapshot by calling :func:`build_snapshot` on its live table.
Everything that can fail on input fails before the folder is created. The rows never reach the driver:
Spark tasks write the shards, the driver writes the manifest and the pointer.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.errors import InputError
from userscore.keys import AS_OF, USER_ID
from userscore.persons import MEMBERS, member_columns
from userscore.serving import layout
from userscore.serving.documents import DocumentColumns, document, document_columns, restricted
from userscore.serving.shards import CHANGES, KINDS, ROW_SCHEMA, SEGMENTS, USERS, shard_column, write_shards

_TIME = "yyyy-MM-dd'T'HH:mm:ss'Z'"
MEMBER_FIELDS = ("strategy", "channel", "priority", "is_control")


@dataclass(frozen=True)
class SnapshotInputs:
    """What one snapshot is built from, checked before anything is written."""

    source: str
    version: int
    wide: DataFrame
    as_of: dt.date
    latest_as_of: dt.date
    members: DataFrame | None
    changes: DataFrame | None
    changes_from: int | None


@dataclass(frozen=True)
class SnapshotOutcome:
    snapshot_id: str
    root: Path
    manifest: dict[str, Any]
    pruned: list[str]


def read_inputs(catalog: Catalog, config: Config, as_of: dt.date | None, source: str | None = None) -> SnapshotInputs:
    """The source table pinned at its current version, the members of ``as_of`` (default: the newest
    as_of_date of the source) and the source's changes over the last ``changes_versions`` versions."""
    source = source or config.scoring.wide_table
    version = catalog.version(source)
    if version is None:
        raise InputError(f"table {source} does not exist at {catalog.location(source)}: run `userscore score` first")
    wide = catalog.read(source, version=version)
    latest = wide.agg(F.max(AS_OF)).first()[0]
    if latest is None:
        raise InputError(f"{source} has no rows: run `userscore score --as-of D` first")
    as_of = as_of or latest
    if wide.where(F.col(AS_OF) == F.lit(as_of)).limit(1).count() == 0:
        raise InputError(f"no row of {source} comes from snapshot {as_of}: run `userscore score --as-of {as_of}` first")
    segments = config.segments
    members = catalog.read(segments.table, where=F.col(AS_OF) == F.lit(as_of)) if segments.families else None
    first = catalog.change_feed_start(source)
    changes_from = None if first is None else max(first, version - config.serving.snapshot.changes_versions + 1)
    changes = None if changes_from is None else catalog.read_changes(source, changes_from, version)
    return SnapshotInputs(source, version, wide, as_of, latest, members, changes, changes_from)


def last_changes(changes: DataFrame) -> DataFrame:
    """One row per user changed in the window: its last change (``last``: version, time, type). A sync after
    version V needs, per user changed since V, only the final state: the user's document at the snapshot's
    version, or its deletion. So the snapshot keeps one small row per changed user, not every change's row."""
    kept = changes.where(F.col("_change_type") != "update_preimage")
    # A struct's max compares its fields in order: the latest commit wins.
    last = F.max(F.struct("_commit_version", "_commit_timestamp", "_change_type")).alias("last")
    return kept.groupBy(USER_ID).agg(last)


def _as_rows(df: DataFrame, shards: int, kind: int, **values: Column) -> DataFrame:
    """``df`` as snapshot rows of ``kind``: the ``ROW_SCHEMA`` fields given in ``values``, the others null."""
    columns = {"shard": shard_column(shards), "kind": F.lit(kind), USER_ID: F.col(USER_ID), **values}
    return df.select(*[columns.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name) for f in ROW_SCHEMA.fields])


def _by_lookup_id(df: DataFrame) -> DataFrame:
    """``df`` once per id a look-up may use: its ``user_id`` and, for rows keyed by person (identity.resolve),
    each of its ``member_user_ids`` in turn, so any of a person's user ids finds the person's document."""
    if MEMBERS not in df.columns:
        return df
    return df.withColumn(USER_ID, F.explode(F.array_union(F.array(USER_ID), F.col(MEMBERS))))


def snapshot_rows(config: Config, inputs: SnapshotInputs, columns: DocumentColumns) -> DataFrame:
    """Every row of the snapshot as ``ROW_SCHEMA``: documents, memberships, last changes (lazy)."""
    shards = config.serving.snapshot.shards
    wide = inputs.wide
    docs = wide.select(
        USER_ID,
        document(config, wide.columns, columns).alias("_body"),
        restricted(columns).alias("_extra"),
        *member_columns(wide),
    )
    parts = [_as_rows(_by_lookup_id(docs), shards, USERS, body=F.col("_body"), extra=F.col("_extra"))]
    if inputs.members is not None:
        body = F.to_json(F.struct(*MEMBER_FIELDS))
        parts.append(_as_rows(inputs.members, shards, SEGMENTS, s1=F.col("family"), s2=F.col("segment"), body=body))
    if inputs.changes is not None:
        parts.append(
            _as_rows(
                last_changes(inputs.changes),
                shards,
                CHANGES,
                s1=F.when(F.col("last._change_type") == "delete", "delete").otherwise("upsert"),
                s2=F.date_format("last._commit_timestamp", _TIME),
                n1=F.col("last._commit_version"),
            )
        )
    return functools.reduce(DataFrame.unionByName, parts)


def _summary(config: Config, inputs: SnapshotInputs) -> dict[str, Any]:
    """Model versions present and members per segment: aggregates bounded by versions and segments."""
    version_columns = {t: o.column("model_version") for t, o in config.scoring.targets.items()}
    if config.scoring.btyd.enabled:
        version_columns["btyd"] = "btyd_model_version"
    present = {k: c for k, c in version_columns.items() if c in inputs.wide.columns}
    versions = {}
    if present:
        row = inputs.wide.agg(*[F.sort_array(F.collect_set(c)).alias(k) for k, c in present.items()]).first()
        versions = {k: list(row[k]) for k in present}
    segments: dict[str, dict[str, int]] = {
        family: dict.fromkeys(spec.segments, 0) for family, spec in config.segments.families.items()
    }
    if inputs.members is not None:
        for row in inputs.members.groupBy("family", "segment").count().collect():
            segments.setdefault(row["family"], {})[row["segment"]] = int(row["count"])
    return {"model_versions": versions, "segments": segments}


def build_snapshot(
    catalog: Catalog,
    config: Config,
    as_of: dt.date | None = None,
    source: str | None = None,
    logger: logging.Logger | None = None,
    grace_seconds: float | None = None,
) -> SnapshotOutcome:
    """Check the inputs, write a new snapshot folder, publish it and prune old folders (replaced more than
    ``grace_seconds`` ago; default serving.snapshot.grace_minutes)."""
    logger = logger or logging.getLogger("userscore.snapshot")
    settings = config.serving.snapshot
    root = layout.snapshot_root(config)
    inputs = read_inputs(catalog, config, as_of, source)
    columns = document_columns(config, inputs.wide.columns)
    summary = _summary(config, inputs)

    snapshot_id = layout.new_snapshot_id(inputs.version)
    folder = layout.versions_dir(root) / snapshot_id
    folder.mkdir(parents=True)
    counts = write_shards(snapshot_rows(config, inputs, columns), folder, settings.shards)
    files = [
        {"shard": s, "file": layout.shard_file(s), **{KINDS[k]: counts[s][k] for k in KINDS}} for s in sorted(counts)
    ]
    manifest = {
        "format": layout.FORMAT,
        "snapshot": snapshot_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": {"table": inputs.source, "version": inputs.version},
        "as_of_date": str(inputs.latest_as_of),
        "segments_as_of": str(inputs.as_of),
        "shards": settings.shards,
        "hash": layout.HASH_RULE,
        "files": files,
        "rows": {KINDS[k]: sum(f[KINDS[k]] for f in files) for k in KINDS},
        "changes": {
            "available": inputs.changes_from is not None,
            "from_version": inputs.changes_from,
            "to_version": inputs.version,
        },
        "tags": {"public": list(columns.public_tags), "restricted": list(columns.restricted_tags)},
        **summary,
    }
    layout.write_json_atomically(folder / layout.MANIFEST, manifest)
    layout.publish(root, snapshot_id)
    logger.info("published snapshot %s (%s version %d)", snapshot_id, inputs.source, inputs.version)
    pruned = layout.prune(root, settings.grace_minutes * 60 if grace_seconds is None else grace_seconds)
    return SnapshotOutcome(snapshot_id, root, manifest, pruned)


def republish_after_erasure(catalog: Catalog, config: Config, logger: logging.Logger) -> list[str]:
    """After an erasure: rebuild the published snapshot from the tables just cleaned (the same segments
    date) and delete every other snapshot folder at once, since they still hold the erased users (an API
    reading one keeps its open files until it reloads). When it cannot be rebuilt (say the erased users
    were all that date's rows), the snapshot is withdrawn instead: the API then answers 503 until the next
    `userscore snapshot`, and never serves an erased user. Nothing published: nothing to do."""
    root = layout.snapshot_root(config)
    current = layout.current_id(root)
    if current is None:
        return []
    as_of = dt.date.fromisoformat(layout.read_manifest(root, current)["segments_as_of"])
    try:
        outcome = build_snapshot(catalog, config, as_of, logger=logger, grace_seconds=0)
    except InputError as error:
        withdrawn = layout.withdraw(root)
        return [f"look-up snapshot withdrawn ({', '.join(withdrawn)}): {error}; run `userscore snapshot`"]
    deleted = ", ".join(outcome.pruned) or "none"
    return [f"look-up snapshot rebuilt without the erased users: {outcome.snapshot_id}; older ones deleted: {deleted}"]


def summary_lines(outcome: SnapshotOutcome) -> list[str]:
    m = outcome.manifest
    rows = m["rows"]
    changes = m["changes"]
    span = f"versions {changes['from_version']}..{changes['to_version']}" if changes["available"] else "off (no CDF)"
    lines = [
        f"snapshot {outcome.snapshot_id}: {m['source']['table']} version {m['source']['version']}, "
        f"as_of {m['as_of_date']}, segments of {m['segments_as_of']}",
        f"rows: {rows['users']:,} users, {rows['segment_members']:,} segment memberships, "
        f"{rows['changes']:,} users changed ({span}) in {m['shards']} shards",
        "model versions: " + (", ".join(f"{k} {v}" for k, v in m["model_versions"].items()) or "-"),
        f"restricted tags (restricted:read only): {', '.join(m['tags']['restricted']) or '-'}",
        f"published: {outcome.root / layout.POINTER} -> {outcome.snapshot_id}",
    ]
    if outcome.pruned:
        lines.append(f"pruned: {', '.join(outcome.pruned)}")
    return lines
