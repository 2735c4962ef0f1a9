"""Ingest raw batches into silver: validate, deduplicate, hash PII, quarantine, reconcile, write.

For each batch (oldest first):
1. Plan, before anything is written: the requested sources are configured and have raw folders, the
   batch has a folder for each, the PII key is set. Sources declared absent (ingest.absent_sources) need
   no raw folder: their silver tables are created empty (kept as they are when they exist), so every
   reader of silver finds its tables. Source batches already recorded complete in
   ops.ingest_audit are skipped ("batch X already ingested at ...; use --force to re-ingest"). A source
   whose user ids or ``references`` are checked against a source of the same batch that landed is refused
   unless that source is ingested first or in the same run.
2. Validate each source in config order (users first, because the others check their user ids against
   the users accepted in this batch plus silver.users; a source with ``references`` rules after the sources
   it references, whose records it checks against their accepted records of this batch plus their silver
   tables: a response against the sends). The raw files are read once: the parsed batch is
   persisted, counted, checked and deduplicated, and the tagged records are persisted and materialised
   by the counting. Comparisons with silver ignore rows of this same batch, so even a recomputation after
   this batch's own writes (a lost cache block) gives the same outcome.
3. Reconcile every source: records read = accepted + quarantined + duplicates dropped, computed from the
   persisted DataFrames. A mismatch raises ReconciliationError before any table is written.
4. Write the silver tables, then silver.quarantine. ``batch`` tables replace exactly this batch's rows
   (replaceWhere on ingest_batch_id), ``merge`` tables (silver.users) upsert by key; quarantine replaces
   this batch's rows of the ingested sources. Each write is one atomic Delta commit.
5. Write the ops.ingest_audit rows LAST (MERGE by batch_id, source). A batch is complete only once its
   audit rows exist: a crash at any earlier point leaves every table at a readable version and the batch
   pending, and the next run redoes it, replacing (never duplicating) what the crashed run wrote.

Idempotency: re-running a complete batch is a no-op unless forced; forced, it writes the same rows again
(rows of the same batch are not counted as duplicates of themselves). A later batch appends; its keys
already in silver from another batch are counted as duplicates and dropped, except in versioned sources
(orders): there a later version of a key updates the silver row by MERGE, an identical one is a duplicate
and an older or same-time one with different values is quarantined as ``version_conflict`` (dedupe.py).
A source with ``unique_by`` (social_edges) keeps one record per relation: a repeated follow under another
id, in the batch or already in silver from another batch, is quarantined as ``duplicate_relation``
(relations.py); re-ingesting the batch gives the same outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore import landing
from userscore.catalog import Catalog, WriteResult, declared_schema
from userscore.config.ingest import BATCH_COLUMN, IngestConfig, SourceConfig, present_sources
from userscore.config.tables import TableSpec
from userscore.errors import InputError
from userscore.ingest.audit import AUDIT_TABLE, SourceCounts, audit_rows, completed, outcome_counts, reconcile
from userscore.ingest.dedupe import ACCEPTED, DUPLICATE, STATUS, mark_outcomes
from userscore.ingest.fill import fill_defaults, fill_flag_times
from userscore.ingest.parse import json_records, raw_names, source_fields, table_records, typed_columns
from userscore.ingest.pii import hash_identifier, pii_key
from userscore.ingest.quarantine import QUARANTINE_TABLE, quarantine_rows
from userscore.ingest.relations import mark_duplicate_relations
from userscore.ingest.rules import check_distinct, check_known_users, check_reference, with_problems
from userscore.keys import USER_ID

USERS_TABLE = "silver.users"

Stage = Callable[[str], AbstractContextManager]


@dataclass(frozen=True)
class BatchPlan:
    """One batch to ingest: the sources to (re-)ingest and those skipped as already complete.

    ``folders``: the raw folders of a source's records when they are not its one landed batch folder
    ``<raw_dir>/<source>/<batch_id>``: the stream ingests all the folders one micro-batch saw as one batch.
    """

    batch_id: str
    sources: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    folders: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestPlan:
    """The batches to ingest, messages about skipped ones, and the PII key (None if no source has PII)."""

    batches: tuple[BatchPlan, ...]
    messages: tuple[str, ...]
    pii_key: bytes | None


@dataclass(frozen=True)
class Validated:
    """One source of one batch after validation: every record tagged with its outcome (persisted)."""

    name: str
    source: SourceConfig
    spec: TableSpec
    tagged: DataFrame
    counts: SourceCounts


@dataclass(frozen=True)
class Referenced:
    """The records a ``references`` rule checks against: one per value of ``key`` (the referenced table's)."""

    records: DataFrame
    key: str


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    counts: tuple[SourceCounts, ...]
    writes: tuple[WriteResult, ...]

    def summary(self) -> list[str]:
        lines = [f"batch {self.batch_id}:"]
        for c in self.counts:
            lines.append(f"  {c}")
            if c.reasons:
                lines.append("    quarantine reasons: " + ", ".join(f"{r} {n:,}" for r, n in c.reasons.items()))
        return lines


def plan_ingest(
    catalog: Catalog,
    ingest: IngestConfig,
    raw_dir: Path,
    *,
    sources: Sequence[str] | None = None,
    batch: str | None = None,
    force: bool = False,
) -> IngestPlan:
    """Check inputs and decide what to ingest; raises InputError before anything is written.

    Args:
        sources: source names to ingest (default: all configured, in config order).
        batch: one batch id (default: every landed batch not recorded complete, oldest first).
        force: re-ingest batches already recorded complete.
    """
    names = _requested_sources(ingest, sources)
    key = pii_key(ingest.pii_key_env) if any(ingest.sources[n].pii for n in names) else None
    folders = {n: raw_dir / ingest.sources[n].path for n in names}
    missing = [f"{n} ({folder})" for n, folder in folders.items() if not folder.is_dir()]
    if missing:
        raise InputError(f"no raw folder for configured source(s): {', '.join(missing)}")
    if batch is not None:
        landed = [batch]
    else:
        landed = sorted({b for n in names for b in landing.list_batches(raw_dir, ingest.sources[n].path)})
        if not landed:
            raise InputError(f"no landed batches under {raw_dir} for sources {list(names)}")

    done = completed(catalog)
    plans, messages = [], []
    for batch_id in landed:
        todo = tuple(n for n in names if force or (batch_id, n) not in done)
        skipped = tuple(n for n in names if n not in todo)
        if not todo:
            if batch is not None:
                # Collected timestamps are naive local time: astimezone reads them as such.
                at = max(done[(batch_id, n)] for n in names).astimezone(dt.UTC)
                messages.append(
                    f"batch {batch_id} already ingested at {at:%Y-%m-%dT%H:%M:%SZ}; use --force to re-ingest"
                )
            continue
        _check_batch_inputs(ingest, raw_dir, batch_id, todo, done)
        if skipped:
            messages.append(f"batch {batch_id}: sources {list(skipped)} already ingested, skipped; use --force")
        plans.append(BatchPlan(batch_id, todo, skipped))
    if not plans and batch is None:
        messages.append(
            f"nothing to ingest: all {len(landed)} landed batches (latest {landed[-1]}) are already ingested; "
            "use --batch ID --force to re-ingest one"
        )
    return IngestPlan(tuple(plans), tuple(messages), key)


def ingest(
    catalog: Catalog,
    ingest_config: IngestConfig,
    raw_dir: Path,
    plan: IngestPlan,
    *,
    now: dt.datetime,
    run_id: str,
    stage: Stage | None = None,
    logger: logging.Logger | None = None,
) -> list[BatchResult]:
    """Ingest every batch of ``plan``, oldest first (each one completely before the next), after creating
    the empty silver tables of the absent sources."""
    sources = dict.fromkeys(name for b in plan.batches for name in b.sources)
    absent = [ingest_config.sources[s].table for s in ingest_config.absent_sources]
    # Every table this run writes matches its declaration (or the run fails) before the first write.
    catalog.prepare(*(ingest_config.sources[s].table for s in sources), *absent, QUARANTINE_TABLE, AUDIT_TABLE)
    for table in absent:
        catalog.ensure(table)
    return [
        ingest_batch(
            catalog, ingest_config, raw_dir, b, key=plan.pii_key, now=now, run_id=run_id, stage=stage, logger=logger
        )
        for b in plan.batches
    ]


def ingest_batch(
    catalog: Catalog,
    ingest_config: IngestConfig,
    raw_dir: Path,
    batch: BatchPlan,
    *,
    key: bytes | None,
    now: dt.datetime,
    run_id: str,
    stage: Stage | None = None,
    logger: logging.Logger | None = None,
) -> BatchResult:
    """Validate, reconcile and write one batch (see the module docstring for the order of writes).

    Args:
        now: the run's reference time (timezone-aware); timestamps later than now + tolerance are rejected.
    """
    stage = stage or (lambda name: contextlib.nullcontext())
    logger = logger or logging.getLogger("userscore.ingest")
    started_at = dt.datetime.now(dt.UTC)
    latest = now + dt.timedelta(hours=ingest_config.future_tolerance_hours)
    earliest = dt.datetime.combine(ingest_config.earliest_date, dt.time(), dt.UTC)
    spark = catalog.spark
    validated: list[Validated] = []
    try:
        for name in batch.sources:
            source = ingest_config.sources[name]
            with stage(f"validate {name}"):
                validated.append(
                    validate_source(
                        spark,
                        name,
                        source,
                        catalog.spec(source.table),
                        batch.folders.get(name) or (landing.batch_path(raw_dir, source.path, batch.batch_id),),
                        batch.batch_id,
                        key=key,
                        max_string_length=ingest_config.max_string_length,
                        earliest=earliest,
                        latest=latest,
                        known_users=_known_users(catalog, validated) if source.user_columns else None,
                        referenced={
                            column: _referenced(catalog, ingest_config, validated, rule.source, batch.batch_id)
                            for column, rule in source.references.items()
                        },
                        existing=_existing(catalog, source.table),
                        logger=logger,
                    )
                )
        counts = tuple(v.counts for v in validated)
        reconcile(batch.batch_id, counts)

        writes: list[WriteResult] = []
        versions: dict[str, int] = {}
        with stage("write silver"):
            for v in validated:
                accepted = v.tagged.where(F.col(STATUS) == ACCEPTED).select(*v.spec.column_names)
                if v.source.write == "merge":
                    result = catalog.merge(v.source.table, accepted)
                else:
                    result = catalog.overwrite_where(v.source.table, accepted, {BATCH_COLUMN: batch.batch_id})
                writes.append(result)
                versions[v.name] = result.version
        with stage("write quarantine"):
            writes += _write_quarantine(catalog, ingest_config, validated, batch.batch_id, run_id, started_at)
        with stage("write audit"):
            rows = audit_rows(
                spark,
                run_id=run_id,
                batch_id=batch.batch_id,
                counts=counts,
                versions=versions,
                started_at=started_at,
                finished_at=dt.datetime.now(dt.UTC),
            )
            writes.append(catalog.merge(AUDIT_TABLE, rows))
        return BatchResult(batch.batch_id, counts, tuple(writes))
    finally:
        for v in validated:
            v.tagged.unpersist()


def validate_source(
    spark: SparkSession,
    name: str,
    source: SourceConfig,
    spec: TableSpec,
    path: Path | Sequence[Path],
    batch_id: str,
    *,
    key: bytes | None,
    max_string_length: int,
    earliest: dt.datetime,
    latest: dt.datetime,
    known_users: DataFrame | None,
    existing: DataFrame | None,
    logger: logging.Logger,
    referenced: Mapping[str, Referenced] | None = None,
) -> Validated:
    """Read one source's batch once and tag every record accepted / quarantined / duplicate, with counts.

    Args:
        path: the batch's raw folder, or several (one batch of the records of all).
        known_users: ``user_id`` of the users known to this batch (needed when the source has a
            user_reference); existing: the silver table before this batch's writes (None if absent).
        referenced: per column of ``source.references``, the referenced source's known records, one per
            key (needed when the source has references).
    """
    fields = source_fields(spec, source)
    names = raw_names(fields)

    def hash_pii(value):
        if key is None:
            raise InputError(f"source {name} has PII columns but no PII key was loaded")
        return hash_identifier(value, key)

    redact = {raw: hash_pii for raw in source.pii}
    fmt = source.format
    folders = [path] if isinstance(path, Path) else list(path)
    to_records = json_records if source.format == "json" else table_records
    records = functools.reduce(
        DataFrame.unionByName, [to_records(raw, names, redact) for raw in _read_folders(spark, fmt, folders)]
    )
    parsed = records.transform(typed_columns, fields, batch_id, source.event_time, hash_pii).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        records_read = parsed.count()  # reads the raw files, once, into the persisted batch
        where = ", ".join(str(f) for f in folders)
        logger.info("input %s batch %s: %s records from %s (%s)", name, batch_id, f"{records_read:,}", where, fmt)
        checked = parsed.transform(
            with_problems,
            fields,
            source_name=name,
            ranges=source.ranges,
            allowed=source.allowed,
            max_string_length=max_string_length,
            earliest=earliest,
            latest=latest,
        )
        if source.distinct_columns:
            checked = checked.transform(check_distinct, source.distinct_columns)
        if source.user_columns:
            checked = checked.transform(check_known_users, source.user_columns, known_users)
        checked = checked.transform(fill_defaults, source.defaults)
        if source.flag_times:
            checked = checked.transform(
                fill_flag_times,
                source.flag_times,
                default_time=source.versioned_by or source.event_time,
                event_time=source.event_time,
            )
        for column, rule in source.references.items():
            # After the fills: the compared values are those silver would hold.
            target = (referenced or {}).get(column)
            if target is None:
                raise ValueError(f"source {name}: no referenced records given for references.{column}")
            checked = checked.transform(check_reference, column, rule, target.records, target.key)
        tagged = checked.transform(
            mark_outcomes,
            key=spec.key,
            content_columns=[c for c in spec.column_names if c != BATCH_COLUMN],
            keep_latest_by=source.latest_by,
            existing=existing,
            batch_id=batch_id,
            merge=source.write == "merge",
            versioned_by=source.versioned_by,
        )
        if source.unique_by:
            tagged = tagged.transform(
                mark_duplicate_relations,
                source.unique_by,
                key=spec.key,
                event_time=source.event_time,
                existing=existing,
                batch_id=batch_id,
            )
        tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)
        counts = outcome_counts(name, records_read, tagged)  # materialises ``tagged`` from ``parsed``
    finally:
        parsed.unpersist()
    logger.info("validated %s batch %s: %s", name, batch_id, counts)
    return Validated(name, source, spec, tagged, counts)


def _requested_sources(ingest: IngestConfig, sources: Sequence[str] | None) -> tuple[str, ...]:
    """The requested sources (default: every present one) in config order, the users source first (the
    others check user ids)."""
    present = present_sources(ingest)
    if not present:
        raise InputError("no sources to ingest: ingest.sources is empty or every source is in ingest.absent_sources")
    unknown = [s for s in sources or () if s not in ingest.sources]
    if unknown:
        raise InputError(f"unknown source(s) {unknown}: configured sources are {list(ingest.sources)}")
    absent = [s for s in sources or () if s in ingest.absent_sources]
    if absent:
        raise InputError(f"source(s) {absent} are declared absent (ingest.absent_sources): nothing to ingest for them")
    names = [n for n in present if not sources or n in set(sources)]
    return tuple(sorted(names, key=lambda n: ingest.sources[n].table != USERS_TABLE))


def _users_source(ingest: IngestConfig) -> str | None:
    return next((n for n, s in ingest.sources.items() if s.table == USERS_TABLE), None)


def _check_batch_inputs(
    ingest: IngestConfig,
    raw_dir: Path,
    batch_id: str,
    todo: Sequence[str],
    done: Mapping[tuple[str, str], dt.datetime],
) -> None:
    missing = [
        str(landing.batch_path(raw_dir, ingest.sources[n].path, batch_id))
        for n in todo
        if not landing.batch_path(raw_dir, ingest.sources[n].path, batch_id).is_dir()
    ]
    if missing:
        raise InputError(f"batch {batch_id} has not landed for every source: missing {', '.join(missing)}")
    users = _users_source(ingest)
    needs_users = [n for n in todo if ingest.sources[n].user_columns]
    # A batch that brings users of its own must have them in silver first; one without (e.g. orders and events
    # landed by themselves, as the stream sees them) checks its user ids against silver.users alone.
    users_landed = users is not None and landing.batch_path(raw_dir, ingest.sources[users].path, batch_id).is_dir()
    if users_landed and needs_users and users not in todo and (batch_id, users) not in done:
        raise InputError(
            f"sources {needs_users} of batch {batch_id} check user ids, but source {users!r} of that batch is not "
            f"ingested yet: ingest it first or in the same run (--source {users} ...)"
        )
    # The same for the sources a references rule names (a response's sends).
    for name in todo:
        for column, rule in ingest.sources[name].references.items():
            target = rule.source
            landed = landing.batch_path(raw_dir, ingest.sources[target].path, batch_id).is_dir()
            if landed and target not in todo and (batch_id, target) not in done:
                raise InputError(
                    f"source {name} of batch {batch_id} checks {column} against source {target!r}, whose records "
                    f"of that batch are not ingested yet: ingest it first or in the same run (--source {target} ...)"
                )


def _existing(catalog: Catalog, table: str) -> DataFrame | None:
    """The silver table as it is (None when absent). Catalog.prepare has checked it against its declaration
    (e.g. a silver.orders written before updated_at and refunded_at existed fails there, before any write)."""
    return catalog.read(table) if catalog.exists(table) else None


def _read_folders(spark: SparkSession, fmt: str, folders: Sequence[Path]) -> list[DataFrame]:
    """The folders' raw rows in as few scans as they allow: one for JSON lines, and one for Parquet folders
    that share a schema; else one per folder (each with its own types: the raw-record columns union), so a
    plan over many small folders stays one scan, not a union of hundreds."""
    if fmt == "json":
        return [landing.read_text_lines(spark, folders)]
    frames = [landing.read_folder(spark, fmt, folder) for folder in folders]  # checks each (footers only)
    if fmt == "parquet" and len(frames) > 1 and len({frame.schema.json() for frame in frames}) == 1:
        return [spark.read.schema(frames[0].schema).parquet(*(str(f) for f in folders))]
    return frames


def _known_users(catalog: Catalog, validated: Sequence[Validated]) -> DataFrame:
    """User ids accepted (or already known) in this batch plus those in silver.users; never collected."""
    parts = [
        v.tagged.where(F.col(STATUS).isin(ACCEPTED, DUPLICATE)).select(USER_ID)
        for v in validated
        if v.source.table == USERS_TABLE
    ]
    if catalog.exists(USERS_TABLE):
        parts.append(catalog.read(USERS_TABLE).select(USER_ID))
    if not parts:
        return catalog.spark.createDataFrame([], f"{USER_ID} string")
    known = parts[0]
    for part in parts[1:]:
        known = known.unionByName(part)
    return known


def _referenced(
    catalog: Catalog, ingest: IngestConfig, validated: Sequence[Validated], source_name: str, batch_id: str
) -> Referenced:
    """The records of ``source_name`` a reference may name, one per key; never collected.

    Validated in this run: those it accepted in this batch and its silver rows of other batches, less the keys
    accepted here (a merge source updates them). Otherwise its whole silver table: this run does not write it,
    and its rows of this batch are that batch's accepted records (a re-ingest of the responses alone)."""
    source = ingest.sources[source_name]
    spec = catalog.spec(source.table)
    (key,) = spec.key  # one column (config reference_errors)
    columns = list(spec.column_names)
    here = [v.tagged.where(F.col(STATUS) == ACCEPTED).select(*columns) for v in validated if v.name == source_name]
    if not catalog.exists(source.table):
        records = here[0] if here else catalog.spark.createDataFrame([], declared_schema(spec))
        return Referenced(records, key)
    silver = catalog.read(source.table).select(*columns)
    if not here:
        return Referenced(silver, key)
    earlier = silver.where(F.col(BATCH_COLUMN) != batch_id).join(here[0].select(key), on=key, how="left_anti")
    return Referenced(here[0].unionByName(earlier), key)


def _write_quarantine(
    catalog: Catalog,
    ingest: IngestConfig,
    validated: Sequence[Validated],
    batch_id: str,
    run_id: str,
    at: dt.datetime,
) -> list[WriteResult]:
    """Replace this batch's quarantine rows of the ingested sources: one commit when all sources ran."""
    frames = {v.name: quarantine_rows(v.tagged, v.name, batch_id, run_id, at) for v in validated}
    if set(frames) == set(present_sources(ingest)):
        union = list(frames.values())
        rows = union[0]
        for frame in union[1:]:
            rows = rows.unionByName(frame)
        return [catalog.overwrite_where(QUARANTINE_TABLE, rows, {"batch_id": batch_id})]
    return [
        catalog.overwrite_where(QUARANTINE_TABLE, rows, {"batch_id": batch_id, "source": name})
        for name, rows in frames.items()
    ]
