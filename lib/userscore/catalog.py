"""The table catalog: the only module that reads or writes tables.

A table is named ``<layer>.<name>`` and declared once in conf (``tables``). In ``path`` mode it is a
Delta table at ``<root>/<layer>/<name>``; in ``metastore`` mode it is ``<catalog>.<schema>.<name>``.
Every write is one Delta commit, so a failed or killed write leaves the previous version readable:
- ``overwrite_where``: replace exactly the rows matching a predicate (a partition) with replaceWhere;
- ``merge``: upsert by key, updating only rows whose values changed (so Change Data Feed shows real
  changes only);
- ``append``.
Writes conform the DataFrame to the declared schema first and fail, before writing, on a mismatch.
Table set-up converges to the declaration on every run (``ensure``, ``prepare``): a table left without
some constraints or properties (a run killed while creating it, a property declared later) gets them;
a table that contradicts its declaration fails the job with exit code 2 before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config import Config, TableSpec
from userscore.errors import InputError
from userscore.session import runtime_settings
from userscore.table_setup import TableDrift, table_drift

_SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "int": T.IntegerType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "date": T.DateType(),
    "timestamp": T.TimestampType(),
    "binary": T.BinaryType(),
}


_CDF = "delta.enableChangeDataFeed"


_VACUUM_MARGIN = dt.timedelta(hours=1)


def _retention(parameters: dict[str, str]) -> dt.timedelta:
    """A VACUUM's retention from its history entry (the one given, else the table's default)."""
    millis = parameters.get("specifiedRetentionMillis") or parameters.get("defaultRetentionMillis") or "0"
    return dt.timedelta(milliseconds=int(millis))


_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def _task_slots(spark: SparkSession) -> int | None:
    """The session's default parallelism; None where there is no SparkContext (Spark Connect)."""
    try:
        return spark.sparkContext.defaultParallelism
    except Exception:  # Spark Connect sessions have no SparkContext
        return None


def _switches_cdf_on(parameters: dict[str, str]) -> bool:
    """Whether a commit's parameters set the Change Data Feed property to true (CREATE or SET TBLPROPERTIES)."""
    text = (parameters.get("properties") or "").replace(" ", "").lower()
    return f'"{_CDF.lower()}":"true"' in text


class SchemaMismatch(InputError):
    """A DataFrame does not match the declared schema of the table it is written to."""


class TableConflict(InputError):
    """An existing table contradicts its declaration (constraint, property, columns or partitioning)."""


@dataclass(frozen=True)
class WriteResult:
    """What one write committed: logged by jobs and returned to callers. ``committed`` False: Delta
    committed nothing (e.g. an empty replaceWhere of an empty partition); ``version`` is then the
    table's unchanged current version and ``rows`` 0."""

    table: str
    operation: str
    rows: int
    version: int
    partition: str = ""
    committed: bool = True

    def __str__(self) -> str:
        where = f" [{self.partition}]" if self.partition else ""
        if not self.committed:
            return f"{self.table}{where}: {self.operation}: no change (Delta version {self.version})"
        return f"{self.table}{where}: {self.operation} {self.rows:,} rows -> Delta version {self.version}"


def declared_schema(spec: TableSpec) -> T.StructType:
    """The Spark schema of a table's declared columns."""
    return T.StructType(
        [
            T.StructField(c.name, _SPARK_TYPES[c.type], c.nullable, {"comment": c.description} if c.description else {})
            for c in spec.columns
        ]
    )


def sql_literal(value: Any) -> str:
    """A value as a Spark SQL literal, for partition predicates."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def partition_predicate(values: dict[str, Any]) -> str:
    return " AND ".join(f"`{k}` = {sql_literal(v)}" for k, v in values.items())


class Catalog:
    """Resolves logical table names and performs every read and write."""

    def __init__(self, spark: SparkSession, config: Config, logger: logging.Logger | None = None):
        self.spark = spark
        self.config = config
        self.logger = logger or logging.getLogger("userscore.catalog")
        # Tables found to match their declaration by this catalog (checked once per job, not per write).
        self._set_up: set[str] = set()

    # -- names ------------------------------------------------------------------------------------
    def spec(self, name: str) -> TableSpec:
        try:
            return self.config.tables[name]
        except KeyError:
            raise InputError(
                f"table {name!r} is not declared in conf (tables): known {sorted(self.config.tables)}"
            ) from None

    def location(self, name: str) -> str:
        """Filesystem path (path mode) or three-part table name (metastore mode)."""
        self.spec(name)
        layer, table = name.split(".", 1)
        cat = self.config.catalog
        if cat.mode == "path":
            return str(self.config.path(cat.root) / layer / table)
        return f"{cat.catalog}.{cat.schemas.get(layer, layer)}.{table}"

    def _is_path_mode(self) -> bool:
        return self.config.catalog.mode == "path"

    def _sql_name(self, name: str) -> str:
        return f"delta.`{self.location(name)}`" if self._is_path_mode() else self.location(name)

    def _delta(self, name: str) -> DeltaTable:
        if self._is_path_mode():
            return DeltaTable.forPath(self.spark, self.location(name))
        return DeltaTable.forName(self.spark, self.location(name))

    # -- state ------------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        if self._is_path_mode():
            return DeltaTable.isDeltaTable(self.spark, self.location(name))
        return self.spark.catalog.tableExists(self.location(name))

    def version(self, name: str) -> int | None:
        if not self.exists(name):
            return None
        return int(self._delta(name).history(1).select("version").first()[0])

    # -- create and converge ----------------------------------------------------------------------
    def ensure(self, name: str, schema: T.StructType | None = None) -> None:
        """Create the table from its declared schema if absent, with partitioning, constraints and
        properties; if present, add what it lacks of them (TableConflict when it contradicts them).
        ``schema`` is needed for open-schema tables (their full column set)."""
        spec = self.spec(name)
        if self.exists(name):
            if name not in self._set_up:
                self._converge(name, self._drift(name))
            return
        schema = schema or declared_schema(spec)
        builder = DeltaTable.createIfNotExists(self.spark)
        builder = (
            builder.location(self.location(name)) if self._is_path_mode() else builder.tableName(self.location(name))
        )
        builder = builder.comment(spec.description)
        for field in schema.fields:
            builder = builder.addColumn(
                field.name, field.dataType, nullable=field.nullable, comment=field.metadata.get("comment")
            )
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        for key, value in spec.properties.items():
            builder = builder.property(key, value)
        builder.execute()
        self.logger.info("created table %s at %s", name, self.location(name))
        # One commit per constraint after the create: a run killed in between is completed by the next.
        self._converge(name, TableDrift(dict(spec.constraints), {}, ()))

    def prepare(self, *names: str) -> None:
        """Before a job's first write: fail with one TableConflict naming every contradiction among the
        existing ``names`` (nothing changed), then add their missing constraints and properties."""
        drifts = {n: self._drift(n) for n in dict.fromkeys(names) if n not in self._set_up and self.exists(n)}
        conflicts = [f"{n} ({'; '.join(d.conflicts)})" for n, d in drifts.items() if d.conflicts]
        if conflicts:
            raise TableConflict(
                f"tables disagree with their declaration in conf (tables), nothing written: {', '.join(conflicts)}"
            )
        for name, drift in drifts.items():
            self._converge(name, drift)

    def _drift(self, name: str) -> TableDrift:
        spec = self.spec(name)
        table = self._delta(name)
        detail = table.detail().select("properties", "partitionColumns").first()
        drift = table_drift(
            spec, declared_schema(spec), table.toDF().schema, detail["properties"] or {}, detail["partitionColumns"]
        )
        if drift.undeclared_constraints:
            self.logger.warning("%s has undeclared constraints (kept): %s", name, drift.undeclared_constraints)
        return drift

    def _converge(self, name: str, drift: TableDrift) -> None:
        """Add ``drift``'s missing constraints and properties (TableConflict on its conflicts)."""
        if drift.conflicts:
            raise TableConflict(
                f"table {name} disagrees with its declaration in conf (tables), nothing written: "
                + "; ".join(drift.conflicts)
            )
        table = self._sql_name(name)
        for constraint, expression in drift.missing_constraints.items():
            try:
                self.spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({expression})")
            except AnalysisException as exc:
                if "DELTA_NEW_CHECK_CONSTRAINT_VIOLATION" not in str(exc):
                    raise
                raise TableConflict(
                    f"cannot add constraint {constraint} CHECK ({expression}) to {name}: existing rows violate it "
                    f"({str(exc).splitlines()[0]}); fix those rows, then re-run"
                ) from None
        if drift.missing_properties:
            pairs = ", ".join(f"{sql_literal(k)} = {sql_literal(v)}" for k, v in drift.missing_properties.items())
            self.spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({pairs})")
        if drift.missing_constraints or drift.missing_properties:
            self.logger.info(
                "set up table %s: added constraints %s, properties %s",
                name,
                sorted(drift.missing_constraints),
                sorted(drift.missing_properties),
            )
        self._set_up.add(name)

    # -- read -------------------------------------------------------------------------------------
    def read_present(self, name: str, absent: Collection[str]) -> DataFrame:
        """``read(name)``, or an empty frame of its declared schema when ``name`` is in ``absent`` (the silver
        tables of sources the business does not have, ingest.absent_sources)."""
        if name in absent:
            return self.spark.createDataFrame([], declared_schema(self.spec(name)))
        return self.read(name)

    def read(self, name: str, where: str | Column | None = None, version: int | None = None) -> DataFrame:
        """Read a table (optionally one Delta version). Missing tables are an InputError."""
        if not self.exists(name):
            raise InputError(f"table {name} does not exist at {self.location(name)}: run the job that writes it first")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        df = reader.load(self.location(name)) if self._is_path_mode() else reader.table(self.location(name))
        return df if where is None else df.where(where)

    def change_feed_start(self, name: str) -> int | None:
        """The first version whose changes the table's Change Data Feed can return: the newest commit that
        switched ``delta.enableChangeDataFeed`` on (at creation or later), else the oldest commit still in the
        history when it was on before that, and after every commit whose change files a VACUUM may have
        deleted (an erasure's purge: conf/local keeps 0 hours); None when the feed is off. Reads the commit
        history only."""
        if not self.exists(name) or self.properties(name).get(_CDF, "false").lower() != "true":
            return None
        history = self._delta(name).history().select("version", "timestamp", "operation", "operationParameters")
        commits = history.collect()
        switched = [int(h["version"]) for h in commits if _switches_cdf_on(h["operationParameters"] or {})]
        start = max(switched) if switched else min(int(h["version"]) for h in commits)
        for vacuum in (h for h in commits if h["operation"] == "VACUUM START"):
            # VACUUM deletes change files older than its retention; a commit's files are written just before
            # its timestamp, hence the margin (a few changes given up rather than a read of deleted files).
            horizon = vacuum["timestamp"] - _retention(vacuum["operationParameters"] or {}) + _VACUUM_MARGIN
            gone = [int(h["version"]) for h in commits if h["version"] < vacuum["version"] and h["timestamp"] < horizon]
            start = max([start, *(v + 1 for v in gone)])
        return start

    def read_changes(self, name: str, start: int, end: int) -> DataFrame:
        """The Change Data Feed rows of versions ``start``..``end`` (with ``_change_type``,
        ``_commit_version``, ``_commit_timestamp``)."""
        reader = (
            self.spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", start)
            .option("endingVersion", end)
        )
        return reader.load(self.location(name)) if self._is_path_mode() else reader.table(self.location(name))

    # -- write ------------------------------------------------------------------------------------
    def conform(self, name: str, df: DataFrame) -> DataFrame:
        """Select and cast ``df`` to the declared columns; fail on missing or undeclared columns."""
        spec = self.spec(name)
        declared = declared_schema(spec)
        present = set(df.columns)
        missing = [f.name for f in declared.fields if f.name not in present]
        extra = [c for c in df.columns if c not in spec.column_names]
        if missing or (extra and not spec.open_schema):
            raise SchemaMismatch(
                f"cannot write to {name}: missing columns {missing}, undeclared columns {extra}; "
                f"declared {list(spec.column_names)}"
            )
        columns = [F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in declared.fields]
        columns += [F.col(f"`{c}`") for c in extra]
        return df.select(*columns)

    def _writer(self, df: DataFrame, mode: str):
        return df.write.format("delta").mode(mode)

    def _save(self, writer, name: str) -> None:
        if self._is_path_mode():
            writer.save(self.location(name))
        else:
            writer.saveAsTable(self.location(name))

    def _committed(self, name: str, operation: str, partition: str = "", before: int | None = None) -> WriteResult:
        """The write's result from the table's last commit; ``before``: the version before the write, to
        tell a write that committed nothing (the last commit is then an older one)."""
        last = self._delta(name).history(1).select("version", "operationMetrics").first()
        if before is not None and int(last["version"]) == before:
            result = WriteResult(name, operation, 0, before, partition, committed=False)
            self.logger.info("wrote %s", result)
            return result
        metrics = last["operationMetrics"] or {}
        if operation == "merge":
            # numOutputRows of a MERGE also counts unchanged rows copied into rewritten files.
            rows = int(metrics.get("numTargetRowsInserted", 0)) + int(metrics.get("numTargetRowsUpdated", 0))
        elif operation == "erase":
            rows = int(metrics.get("numTargetRowsDeleted", 0))
        else:
            rows = int(metrics.get("numOutputRows", 0))
        result = WriteResult(name, operation, rows, int(last["version"]), partition)
        self.logger.info("wrote %s", result)
        return result

    def overwrite_where(self, name: str, df: DataFrame, values: dict[str, Any]) -> WriteResult:
        """Atomically replace the rows where ``column = value`` for each item of ``values`` (a partition
        or a batch) with ``df``; every row of ``df`` must match. Re-running gives the same rows."""
        df = self.conform(name, df)
        self.ensure(name, df.schema)
        before = self.version(name)
        predicate = partition_predicate(values)
        writer = self._writer(df, "overwrite").option("replaceWhere", predicate)
        if self.spec(name).open_schema:
            # Open-schema tables (features) gain columns when config adds a window or a measure.
            writer = writer.option("mergeSchema", "true")
        self._save(writer, name)
        return self._committed(name, "replaceWhere", predicate, before)

    def append(self, name: str, df: DataFrame) -> WriteResult:
        df = self.conform(name, df)
        self.ensure(name, df.schema)
        before = self.version(name)
        self._save(self._writer(df, "append"), name)
        return self._committed(name, "append", before=before)

    def merge(
        self,
        name: str,
        df: DataFrame,
        keys: tuple[str, ...] | None = None,
        ignore_changes: tuple[str, ...] = (),
    ) -> WriteResult:
        """Upsert ``df`` by ``keys`` (default: the table's declared key). Rows whose values are all
        unchanged are not rewritten, so the Change Data Feed carries only real changes; a change in
        ``ignore_changes`` columns alone (e.g. as_of_date, scored_at) does not count. Open-schema tables
        gain the new columns of ``df`` (schema evolution), filled for every row ``df`` matches."""
        spec = self.spec(name)
        keys = keys or spec.key
        if not keys:
            raise InputError(f"cannot merge into {name}: no key declared or given")
        df = self.conform(name, df)
        self.ensure(name, df.schema)
        before = self.version(name)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        existing = set(self._delta(name).toDF().columns)
        changed = (
            " OR ".join(
                f"NOT (t.`{c}` <=> s.`{c}`)" if c in existing else f"s.`{c}` IS NOT NULL"
                for c in df.columns
                if c not in keys and c not in ignore_changes
            )
            or "false"
        )
        builder = self._delta(name).alias("t").merge(df.alias("s"), on)
        if spec.open_schema:
            builder = builder.withSchemaEvolution()
        builder.whenMatchedUpdateAll(condition=changed).whenNotMatchedInsertAll().execute()
        return self._committed(name, "merge", before=before)

    # -- erasure ----------------------------------------------------------------------------------
    def delete_matching(self, name: str, subjects: DataFrame, condition: str) -> WriteResult:
        """Delete the rows of ``name`` (alias ``t``) matching any row of ``subjects`` (alias ``s``) by
        ``condition``. A MERGE, not a DELETE: the commit records only the condition, never the values."""
        self._delta(name).alias("t").merge(subjects.alias("s"), condition).whenMatchedDelete().execute()
        return self._committed(name, "erase")

    def properties(self, name: str) -> dict[str, str]:
        """The table's current Delta properties."""
        return dict(self.spark.sql(f"DESCRIBE DETAIL {self._sql_name(name)}").first()["properties"] or {})

    def purge(self, name: str, retention_hours: int, default_retention_hours: int = 168) -> str:
        """Physically remove deleted rows: rewrite files carrying deletion vectors (REORG ... APPLY (PURGE)),
        then VACUUM files unreferenced for ``retention_hours``. Below Delta's retention (168 h), the safety
        check is switched off for this call only: readers of older snapshots and time travel break."""
        table = self._sql_name(name)
        done = []
        if self.properties(name).get("delta.enableDeletionVectors", "false").lower() == "true":
            self.spark.sql(f"REORG TABLE {table} APPLY (PURGE)")
            done.append("REORG APPLY (PURGE)")
        settings = {}
        slots = _task_slots(self.spark)
        if slots is not None and self.spark.conf.get(_LISTING_PARALLELISM, None) is None:
            # VACUUM lists the table in that many tasks, 10,000 by default however small the table: about
            # 15 s on 2 cores for a table of a few files. One listing task per task slot keeps the listing
            # parallel without thousands of empty tasks (a session that sets the value keeps its own).
            settings[_LISTING_PARALLELISM] = str(slots)
        if retention_hours < default_retention_hours:
            settings[_RETENTION_CHECK] = "false"
        with runtime_settings(self.spark, settings):
            self.spark.sql(f"VACUUM {table} RETAIN {int(retention_hours)} HOURS")
        done.append(f"VACUUM RETAIN {int(retention_hours)} HOURS")
        self.logger.info("purged %s: %s", name, ", ".join(done))
        return ", ".join(done)
