"""The streaming query: landed files -> silver (the batch ingest's code) -> rescored users -> live and wide tables.

A Structured Streaming file source per watched source lists the landing zone (``binaryFile``, only the path
is read); each micro-batch hands its new files' paths to :class:`MicroBatch`, which, on the driver:
1. maps them to their landed batch folders (userscore.stream.landed) and ingests the folders no run has
   completed (ops.ingest_audit) as ONE batch, ``stream-<query>-<micro-batch>``, with userscore.ingest: the
   batch job's validation, quarantine reasons, PII hashing, deduplication, reconciliation and audit, in one
   validation pass and one commit per table however many folders landed (each folder read with its own
   schema). A folder whose files cannot be read (e.g. Parquet files that disagree on a type, which the
   batch job refuses too) is left out and recorded with the reason in the progress row; `userscore ingest
   --batch ID` takes it once fixed;
2. picks the users of the rows these folders put into silver (Delta skips files by ingest_batch_id) and
   rescores them as of D = the reference day + 1 (features of every event before the end of the reference
   day) against the latest published population figures (userscore.stream.rescore);
3. MERGEs a progress row into ``stream.progress_table`` and, every ``snapshot_refresh_minutes``, republishes
   the look-up API's snapshot from the wide table.

Exactly once: the query commits a micro-batch to its checkpoint only after the handler returns. A crash
before that replays the same files on restart, under the same batch id (the query id is kept in the
checkpoint): sources the crashed attempt completed are in the audit under that id, so the replay rescores
their users without ingesting them again; a source it left incomplete is ingested again, replacing what it
wrote (replaceWhere by batch id, MERGE by key). No event is lost or counted twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery

from userscore import landing
from userscore.catalog import Catalog, declared_schema
from userscore.config import Config
from userscore.config.ingest import BATCH_COLUMN, present_sources
from userscore.errors import InputError
from userscore.features.population import latest_published
from userscore.ingest import BatchPlan, IngestPlan, ingest
from userscore.ingest.audit import AUDIT_TABLE
from userscore.ingest.pii import pii_key
from userscore.ingest.quarantine import QUARANTINE_TABLE
from userscore.keys import USER_ID
from userscore.persons import person_map_at
from userscore.stream.landed import landed_batches
from userscore.stream.rescore import Scorer, load_scorer, rescore

QUERY_NAME = "userscore-stream"
Clock = Callable[[], dt.datetime]

# The binaryFile source's schema (a streaming source needs it given); only ``path`` is read, so Spark
# lists the files without opening them.
_FILES = T.StructType(
    [
        T.StructField("path", T.StringType(), False),
        T.StructField("modificationTime", T.TimestampType(), False),
        T.StructField("length", T.LongType(), False),
        T.StructField("content", T.BinaryType(), True),
    ]
)


def completed(catalog: Catalog, batch_ids: list[str]) -> set[tuple[str, str]]:
    """The (batch_id, source) pairs of these batches recorded complete in the audit (a few rows)."""
    if not catalog.exists(AUDIT_TABLE):
        return set()
    rows = catalog.read(AUDIT_TABLE).where(F.col("batch_id").isin(batch_ids)).select("batch_id", "source")
    return {(r["batch_id"], r["source"]) for r in rows.collect()}


def features_date(reference: dt.datetime) -> dt.date:
    """D for a reference time: the end of its (UTC) day, so every event up to now counts."""
    return reference.astimezone(dt.UTC).date() + dt.timedelta(days=1)


def watched_sources(config: Config) -> dict[str, str]:
    """source -> its folder under the raw zone: stream.sources minus the absent ones, in ingest order."""
    present = present_sources(config.ingest)
    return {s: config.ingest.sources[s].path for s in present if s in config.stream.sources}


def checkpoint_location(config: Config) -> Path:
    """stream.checkpoint: absolute, or under catalog.root when relative."""
    path = Path(config.stream.checkpoint)
    return path if path.is_absolute() else config.path(config.catalog.root) / path


def _utc(moment: dt.datetime) -> dt.datetime:
    """An aware time as naive UTC (how timestamps are written)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass
class Epoch:
    """One micro-batch as it is processed: what it saw, ingested and rescored."""

    query_id: str
    epoch_id: int
    files: int
    as_of: dt.date
    reference: dt.datetime
    started: dt.datetime
    landed: list[str] = field(default_factory=list)  # the landed folders read, <source>/<batch_id>
    sources: tuple[str, ...] = ()  # the sources ingested (or, on a replay, found ingested)
    accepted: int = 0
    quarantined: int = 0
    users_rescored: int = 0
    wide_rows_changed: int = 0
    population_as_of: dt.date | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def batch_id(self) -> str:
        """The batch id of this micro-batch's rows in silver, the quarantine and the audit: the same when it
        is replayed (the query id is kept in the checkpoint)."""
        return f"stream-{self.query_id[:8]}-{self.epoch_id:06d}"

    @property
    def run_id(self) -> str:
        """The ingest run id (ops.ingest_audit.run_id)."""
        return f"stream:{self.query_id}:{self.epoch_id}"

    @property
    def batch_ids(self) -> str:
        """The landed folders it ingested, ``<source>/<batch_id>`` comma-separated."""
        return ",".join(self.landed)

    def row(self, finished: dt.datetime) -> dict:
        """The progress row (stream.progress_table)."""
        return {
            "query_id": self.query_id,
            "epoch_id": self.epoch_id,
            "ingest_batch_id": self.batch_id,
            "batch_ids": self.batch_ids,
            "files": self.files,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "users_rescored": self.users_rescored,
            "wide_rows_changed": self.wide_rows_changed,
            "as_of_date": self.as_of,
            "population_as_of": self.population_as_of or self.as_of,
            "reference_time": self.reference,
            "started_at": self.started,
            "finished_at": finished,
            "failures": "; ".join(self.failures) or None,
        }

    def describe(self) -> str:
        return (
            f"micro-batch {self.epoch_id}: {self.files} files, batches {self.batch_ids or '-'}, "
            f"{self.accepted:,} accepted, {self.quarantined:,} quarantined, {self.users_rescored:,} users "
            f"rescored as of {self.as_of}, {self.wide_rows_changed:,} wide rows changed"
            + (f", {len(self.failures)} batch(es) failed" if self.failures else "")
        )


@dataclass
class Totals:
    """What the query has done since it started (the job summary)."""

    micro_batches: int = 0
    batches: list[str] = field(default_factory=list)
    accepted: int = 0
    quarantined: int = 0
    users_rescored: int = 0
    wide_rows_changed: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, epoch: Epoch) -> None:
        self.micro_batches += 1
        self.batches += epoch.landed
        self.accepted += epoch.accepted
        self.quarantined += epoch.quarantined
        self.users_rescored += epoch.users_rescored
        self.wide_rows_changed += epoch.wide_rows_changed
        self.failures += epoch.failures


class MicroBatch:
    """The foreachBatch handler (see the module docstring); keeps the loaded champions between calls."""

    def __init__(
        self, catalog: Catalog, config: Config, clock: Clock, scorer: Scorer, key: bytes | None, logger: logging.Logger
    ):
        self.catalog, self.config, self.clock, self.scorer, self.logger = catalog, config, clock, scorer, logger
        self.key = key  # the PII key (None when no watched source has PII)
        self.raw_dir = config.path(config.ingest.raw_dir)
        self.folders = watched_sources(config)
        self.totals = Totals()
        self.last_refresh: float | None = None

    def __call__(self, files: DataFrame, epoch_id: int) -> None:
        started = _utc(dt.datetime.now(dt.UTC))
        paths = [row.path for row in files.select("path").collect()]  # file names: bounded per trigger
        batches = landed_batches(paths, self.raw_dir, self.folders)
        if not batches:
            return
        query_id = str(next(q for q in self.catalog.spark.streams.active if q.name == QUERY_NAME).id)
        reference = self.clock()
        epoch = Epoch(query_id, epoch_id, len(paths), features_date(reference), _utc(reference), started)
        self._ingest(epoch, batches, reference)
        if not (epoch.sources or epoch.failures):  # only folders the batch ingest had taken: no row
            self.logger.info("stream: micro-batch %d: %d files of batches already ingested", epoch_id, len(paths))
            return
        touched = self._touched_users(epoch)
        if touched is not None:
            published = latest_published(self.catalog, self.config.features, epoch.as_of)
            self.scorer = load_scorer(self.config, self.scorer, self.logger)
            outcome = rescore(
                self.catalog, self.config, touched, epoch.as_of, epoch.reference, self.scorer, published, self.logger
            )
            epoch.users_rescored, epoch.population_as_of = outcome.rows, outcome.population_as_of
            epoch.wide_rows_changed = outcome.wide_rows_changed
        self._record(epoch)
        self._refresh_snapshot()

    def _ingest(self, epoch: Epoch, batches: dict[str, tuple[str, ...]], reference: dt.datetime) -> None:
        """Ingest the micro-batch's landed folders as ONE batch, ``epoch.batch_id``: one validation pass and
        one commit per table, however many folders landed.

        Left out: folders the batch ingest completed (``ops.ingest_audit``) or an earlier micro-batch
        ingested (``ops.stream_progress``), and folders whose files cannot be read, recorded with the reason
        (`userscore ingest --batch ID` once fixed). Sources the crashed attempt of this micro-batch completed
        (its replay) are not ingested again but count as ingested, so their users are rescored.
        """
        done = completed(self.catalog, [*batches, epoch.batch_id])
        landed = [f"{source}/{batch_id}" for batch_id, sources in batches.items() for source in sources]
        streamed = self._streamed(landed, epoch.batch_id)
        folders: dict[str, list[Path]] = {}
        for batch_id, sources in batches.items():
            for source in sources:
                folder = self.raw_dir / self.folders[source] / batch_id
                if (batch_id, source) in done or f"{source}/{batch_id}" in streamed:
                    continue
                problem = self._unreadable(source, folder)
                if problem is not None:
                    epoch.failures.append(f"{batch_id}: {problem}")
                    self.logger.error("stream: batch %s of %s not ingested: %s", batch_id, source, problem)
                    continue
                folders.setdefault(source, []).append(folder)
                epoch.landed.append(f"{source}/{batch_id}")
        replayed = [s for s in folders if (epoch.batch_id, s) in done]
        todo = tuple(s for s in self.folders if s in folders and s not in replayed)  # ingest order: users first
        if todo:
            batch = BatchPlan(epoch.batch_id, todo, folders={s: tuple(folders[s]) for s in todo})
            try:
                results = ingest(
                    self.catalog,
                    self.config.ingest,
                    self.raw_dir,
                    IngestPlan((batch,), (), self.key),
                    now=reference,
                    run_id=epoch.run_id,
                )
            except InputError as exc:  # raised before anything of the batch is written
                epoch.failures.append(f"{epoch.batch_ids}: {exc}")
                self.logger.error("stream: micro-batch %d not ingested: %s", epoch.epoch_id, exc)
                todo = ()
            else:
                epoch.accepted = sum(c.accepted for r in results for c in r.counts)
                epoch.quarantined = sum(c.quarantined for r in results for c in r.counts)
        epoch.sources = tuple(s for s in self.folders if s in todo or s in replayed)

    def _streamed(self, landed: list[str], batch_id: str) -> set[str]:
        """The ``source/batch`` folders among ``landed`` an earlier micro-batch ingested (its progress row
        lists them), e.g. under a checkpoint since replaced; not this micro-batch's own (a replay)."""
        table = self.config.stream.progress_table
        if not self.catalog.exists(table):
            return set()
        folder = F.explode(F.split(F.col("batch_ids"), ",")).alias("folder")
        rows = self.catalog.read(table).where(F.col("ingest_batch_id") != F.lit(batch_id)).select(folder)
        return {r["folder"] for r in rows.where(F.col("folder").isin(landed)).collect()}

    def _unreadable(self, source: str, folder: Path) -> str | None:
        """Why the folder's files cannot be read as ``source`` (the batch ingest refuses them too), or None."""
        try:  # footers and listings only: nothing is scanned
            landing.read_folder(self.catalog.spark, self.config.ingest.sources[source].format, folder)
        except InputError as exc:
            return str(exc)
        return None

    def _touched_users(self, epoch: Epoch) -> DataFrame | None:
        """The distinct user ids of the rows this micro-batch put into silver (None: nothing ingested)."""
        tables = [self.config.ingest.sources[s].table for s in epoch.sources]
        parts = [
            self.catalog.read(t).where(F.col(BATCH_COLUMN) == F.lit(epoch.batch_id)).select(USER_ID)
            for t in tables
            if USER_ID in self.catalog.spec(t).column_names
        ]
        if not parts:
            return None
        return functools.reduce(DataFrame.unionByName, parts).distinct()

    def _record(self, epoch: Epoch) -> None:
        """MERGE the micro-batch's progress row (a replayed micro-batch replaces its own) and count it."""
        table = self.config.stream.progress_table
        schema = declared_schema(self.catalog.spec(table))
        row = epoch.row(_utc(dt.datetime.now(dt.UTC)))
        self.catalog.merge(table, self.catalog.spark.createDataFrame([tuple(row[f.name] for f in schema)], schema))
        self.totals.add(epoch)
        self.logger.info("stream: %s", epoch.describe())

    def _refresh_snapshot(self) -> None:
        """Republish the look-up snapshot from the wide table when the last one is old enough."""
        minutes = self.config.stream.snapshot_refresh_minutes
        if minutes is None or (self.last_refresh is not None and time.monotonic() - self.last_refresh < 60 * minutes):
            return
        from userscore.serving.build import build_snapshot

        segments = self.config.segments
        as_of = None
        if segments.families and self.catalog.exists(segments.table):
            as_of = self.catalog.read(segments.table).agg(F.max("as_of_date")).first()[0]
        try:
            outcome = build_snapshot(self.catalog, self.config, as_of, logger=self.logger)
        except InputError as exc:
            self.logger.warning("stream: look-up snapshot not refreshed: %s", exc)
            return
        self.last_refresh = time.monotonic()
        self.logger.info("stream: look-up snapshot %s published", outcome.snapshot_id)


def prepare(catalog: Catalog, config: Config, clock: Clock, logger: logging.Logger) -> MicroBatch:
    """Everything the query needs, checked before it starts (InputError, nothing written): the watched
    sources and their raw folders, the PII key, a published snapshot, with identity.resolve an identity run, and
    the champions; then the tables."""
    folders = watched_sources(config)
    if not folders:
        raise InputError(f"stream.sources {list(config.stream.sources)}: every one is in ingest.absent_sources")
    raw_dir = config.path(config.ingest.raw_dir)
    missing = [f"{s} ({raw_dir / folder})" for s, folder in folders.items() if not (raw_dir / folder).is_dir()]
    if missing:
        raise InputError(f"no raw folder for watched source(s): {', '.join(missing)}")
    key = pii_key(config.ingest.pii_key_env) if any(config.ingest.sources[s].pii for s in folders) else None
    live_date = features_date(clock())
    latest_published(catalog, config.features, live_date)
    if config.identity.resolve:  # rescoring keys by person: a person map must be in force at the live date
        person_map_at(catalog, config.identity.person_map_table, live_date)
    scorer = load_scorer(config, logger=logger)
    tables = [config.ingest.sources[s].table for s in folders]
    outputs = (config.stream.live_table, config.scoring.wide_table, config.stream.progress_table)
    catalog.prepare(*tables, QUARANTINE_TABLE, AUDIT_TABLE, *outputs)
    return MicroBatch(catalog, config, clock, scorer, key, logger)


def start(spark: SparkSession, config: Config, handler: MicroBatch, available_now: bool) -> StreamingQuery:
    """Start the query: one file stream per watched source (paths only), unioned, into ``handler``."""
    raw_dir = config.path(config.ingest.raw_dir)
    streams = [
        spark.readStream.format("binaryFile")
        .schema(_FILES)
        .option("recursiveFileLookup", "true")
        .option("maxFilesPerTrigger", config.stream.max_files_per_trigger)
        .load(str(raw_dir / folder))
        .select("path")
        for folder in handler.folders.values()
    ]
    files = streams[0]
    for other in streams[1:]:
        files = files.unionByName(other)
    writer = (
        files.writeStream.queryName(QUERY_NAME)
        .option("checkpointLocation", str(checkpoint_location(config)))
        .foreachBatch(handler)
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{config.stream.trigger.interval_seconds} seconds")
    return writer.start()
