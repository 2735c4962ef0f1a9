"""Config section ``ingest``: raw sources, their target tables and validation rules."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import Literal

from userscore.config.features import FeaturesConfig
from userscore.config.models import RULE_INPUTS, ModelsConfig
from userscore.config.tables import TableSpec
from userscore.config.typed import KeyPath, frozen

# Every silver table ingest writes carries the batch its rows came from (re-ingest replaces by it).
BATCH_COLUMN = "ingest_batch_id"
# Nanosecond timestamps (pandas, pyarrow, delta-rs) start at 1677-09-21: an earliest date before it would let
# through times those readers of the silver tables cannot represent.
NANOSECOND_FLOOR = dt.date(1678, 1, 1)
# A quarantine reason a rule declares: it is stored in silver.quarantine.reason and counted per reason.
_REASON = re.compile(r"^[a-z][a-z0-9_]*$")


@frozen
class RangeRule:
    """Numeric bounds (inclusive) for one column: at least one, finite, and min <= max (an empty
    range would quarantine every record)."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self):
        if self.min is None and self.max is None:
            raise ValueError("at least one of min and max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"max: a number >= min ({self.min:g})")


@frozen
class UniqueRule:
    """Records that state one relation: at most one per value of ``columns`` (within ``when``).

    columns: the relation's natural key, e.g. [src_user_id, dst_user_id, edge_type].
    when: column -> values: the rule covers only records whose column holds one of them (e.g. follows and
    invites are relations, a second one repeats the first; shares are events, each one real). Empty: all.
    """

    columns: tuple[str, ...]
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        if not self.columns:
            raise ValueError("columns: at least one column")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns: each column once, got {list(self.columns)}")
        empty = [c for c, values in self.when.items() if not values]
        if empty:
            raise ValueError(f"when: at least one value per column (an empty list matches nothing), not {empty}")


@frozen
class ReferenceRule:
    """A column whose values must be keys of another source's records (``references.<column>``).

    source: the referenced source, declared before this one in ``ingest.sources`` (the load order); its
    table's key is one column. Its records are those it accepted in this batch and the rows of its silver
    table (when it is ingested in the same run, those of other batches: this batch's are the accepted ones).
    reason: the quarantine reason of a set value that is no such key (e.g. ``unknown_send``).
    agree: this record's column -> the referenced record's column that must hold the same value; a set
    value that differs is ``mismatch_reason`` (e.g. ``send_mismatch``), one problem per column.
    not_before: this record's timestamp column -> the referenced record's one it must not precede; an
    earlier time is ``time_reason`` (e.g. ``inconsistent_time``).
    A reason that is one of the built-in reasons takes its precedence; any other ranks after
    ``unknown_user`` (userscore.ingest.rules).
    """

    source: str
    reason: str
    agree: Mapping[str, str] = field(default_factory=dict)
    mismatch_reason: str | None = None
    not_before: Mapping[str, str] = field(default_factory=dict)
    time_reason: str | None = None

    def __post_init__(self):
        for key in ("reason", "mismatch_reason", "time_reason"):
            value = getattr(self, key)
            if value is not None and not _REASON.match(value):
                raise ValueError(f"{key}: a lower_snake_case reason name, got {value!r}")
        for key, section, pairs, reason in (
            ("mismatch_reason", "agree", self.agree, self.mismatch_reason),
            ("time_reason", "not_before", self.not_before, self.time_reason),
        ):
            if pairs and reason is None:
                raise ValueError(f"{key}: the reason of a record that breaks {section} (required with {section})")
            if reason is not None and not pairs:
                raise ValueError(f"{key}: only with {section} (no {section} columns are declared)")


@frozen
class SourceConfig:
    """One raw source: where its files are, how they are encoded and which silver table they feed.

    format: ``json`` (JSON lines, read as text so bad lines survive verbatim), ``parquet``, or ``delta``
    (each batch folder ``<raw_dir>/<path>/<batch_id>`` is a Delta table).
    write: ``batch`` replaces the batch's rows (replaceWhere on ingest_batch_id); ``merge`` upserts by
    the table key, so a later batch updates a row (profiles).
    event_time: the record's business time; ``month_column`` (a date column) is its first day of month.
    keep_latest_by: among records of one key with different content, keep the latest by this column
    (ties, and sources without it: the first in landing order).
    versioned_by: the source's update time of a record (``write: merge`` only; replaces keep_latest_by):
    a version later than the silver row of its key replaces it, one not later with different content is
    quarantined as ``version_conflict``; in a batch the latest version is kept, older ones are quarantined
    as ``superseded_version`` and same-time ones with different content as ``duplicate_key_conflict``.
    defaults: silver column -> the column whose value it takes when the raw record has none.
    flag_times: boolean column -> timestamp column of when it became true (e.g. is_refunded ->
    refunded_at). A true flag without a time gets the record's versioned_by time (else its event_time):
    the latest time it can have happened, known by then. A time on a false flag, or before event_time,
    is quarantined as ``inconsistent_time``.
    user_reference: the column, or list of columns, each checked against the known users (this batch's and
    silver.users): a value not among them is ``unknown_user``, naming the column.
    references: column -> ``ReferenceRule``: the column's values must be keys of another source's records
    (a response's send_id of a send), with a declared reason, columns that must agree with the referenced
    record and times that must not precede its times.
    distinct_columns: columns that must differ within a record (e.g. an edge's two ends): a record where two
    of them are equal is quarantined as ``self_link``.
    unique_by: one record per relation (``UniqueRule``, ``write: batch`` only): a later accepted record with
    the same natural key as another one in this batch, or as a silver row of another batch, is quarantined
    as ``duplicate_relation`` (in a batch the earliest by event_time, then landing order, is kept; across
    batches the first seen).
    ranges / allowed: numeric bounds and allowed values per silver column.
    pii: raw column -> silver column holding its keyed hash (the clear value is never written).
    """

    format: Literal["json", "parquet", "delta"]
    path: str
    table: str
    write: Literal["batch", "merge"]
    event_time: str | None = None
    month_column: str | None = None
    keep_latest_by: str | None = None
    versioned_by: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    flag_times: Mapping[str, str] = field(default_factory=dict)
    user_reference: str | tuple[str, ...] | None = None
    distinct_columns: tuple[str, ...] = ()
    unique_by: UniqueRule | None = None
    references: Mapping[str, ReferenceRule] = field(default_factory=dict)
    ranges: Mapping[str, RangeRule] = field(default_factory=dict)
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pii: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.month_column and not self.event_time:
            raise ValueError("month_column: needs event_time, the timestamp the month is derived from")
        if self.versioned_by and self.write != "merge":
            raise ValueError(f"versioned_by: needs write: merge (a later version updates the row), got {self.write}")
        if self.versioned_by and self.keep_latest_by:
            raise ValueError("keep_latest_by: not with versioned_by, which already keeps the latest version")
        if self.flag_times and not (self.versioned_by or self.event_time):
            raise ValueError("flag_times: needs versioned_by or event_time, the default time of a flag")
        if len(self.user_columns) != len(set(self.user_columns)):
            raise ValueError(f"user_reference: each column once, got {list(self.user_columns)}")
        if self.distinct_columns and (
            len(self.distinct_columns) < 2 or len(set(self.distinct_columns)) != len(self.distinct_columns)
        ):
            raise ValueError(f"distinct_columns: two or more different columns, got {list(self.distinct_columns)}")
        if self.unique_by and self.write != "batch":
            raise ValueError(f"unique_by: needs write: batch (silver rows of other batches stay), got {self.write}")
        for column, values in (self.unique_by.when if self.unique_by else {}).items():
            unknown = [v for v in values if column in self.allowed and v not in self.allowed[column]]
            if unknown:
                raise ValueError(f"unique_by: when.{column} values among allowed.{column}, unknown {unknown}")

    @property
    def user_columns(self) -> tuple[str, ...]:
        """The columns checked against the known users (``user_reference`` as a tuple)."""
        if self.user_reference is None:
            return ()
        return (self.user_reference,) if isinstance(self.user_reference, str) else self.user_reference

    @property
    def latest_by(self) -> str | None:
        """The column that orders records of one key, latest first (None: landing order only)."""
        return self.versioned_by or self.keep_latest_by


@frozen
class IngestConfig:
    """Raw landing folder, the sources in load order, and limits every record is checked against.

    earliest_date: timestamps before this date (00:00 UTC) are rejected as ``bad_timestamp``;
    future_tolerance_hours: those later than the run's reference time plus this as ``future_timestamp``.
    absent_sources: sources this business does not have (no raw folder): ingest keeps their silver
    tables empty, features leave the measures over them at their no-activity defaults, and a target
    whose population or label reads one is a config error.
    """

    raw_dir: str
    pii_key_env: str
    max_string_length: int
    earliest_date: dt.date
    future_tolerance_hours: int
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    absent_sources: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = [s for s in self.absent_sources if s not in self.sources]
        if unknown:
            raise ValueError(f"absent_sources: names of ingest.sources ({', '.join(self.sources)}); unknown {unknown}")
        if self.max_string_length < 1:
            raise ValueError(f"max_string_length: a positive length, got {self.max_string_length}")
        if self.future_tolerance_hours < 0:
            raise ValueError(f"future_tolerance_hours: zero or more hours, got {self.future_tolerance_hours}")
        if self.earliest_date < NANOSECOND_FLOOR:
            raise ValueError(
                f"earliest_date: {NANOSECOND_FLOOR} or later (nanosecond timestamps start in 1677), "
                f"got {self.earliest_date}"
            )


def present_sources(ingest: IngestConfig) -> tuple[str, ...]:
    """The sources that land raw data, in config order."""
    return tuple(n for n in ingest.sources if n not in ingest.absent_sources)


def absent_tables(ingest: IngestConfig) -> dict[str, str]:
    """Silver table -> the absent source that would feed it."""
    return {ingest.sources[n].table: n for n in ingest.absent_sources}


def reference_errors(ingest: IngestConfig, tables: Mapping[str, TableSpec]) -> Iterator[tuple[KeyPath, str, str]]:
    """What ingest needs of each target table beyond the column references checked in Config:
    a declared key (deduplication), the batch column, and the derived/ordering columns."""
    for source_name, source in ingest.sources.items():
        spec = tables.get(source.table)
        if spec is None:
            continue  # reported by Config.reference_errors
        at: KeyPath = ("ingest", "sources", source_name)
        if not spec.key:
            yield (*at, "table"), f"{source.table} declares no key", "a table with a key (ingest deduplicates by it)"
        if BATCH_COLUMN not in spec.column_names:
            yield (*at, "table"), f"{source.table} has no {BATCH_COLUMN} column", f"a table with {BATCH_COLUMN}"
        columns = [("month_column", source.month_column), ("keep_latest_by", source.keep_latest_by)]
        columns += [("versioned_by", source.versioned_by)]
        for section, pairs in (("defaults", source.defaults), ("flag_times", source.flag_times)):
            for column, other in pairs.items():
                columns += [(f"{section}.{column}", column), (f"{section}.{column}", other)]
        for key, column in columns:
            if column is not None and column not in spec.column_names:
                yield (*at, key), f"undefined column {column!r} of {source.table}", f"one of {list(spec.column_names)}"
    yield from _reference_rule_errors(ingest, tables)


def _reference_rule_errors(ingest: IngestConfig, tables: Mapping[str, TableSpec]) -> Iterator[tuple[KeyPath, str, str]]:
    """What a ``references`` rule needs: a source loaded before this one and present when this one is, whose
    table has a one-column key of the referencing column's type, and columns of matching types on both sides
    (this side's columns are checked in Config.reference_errors)."""
    order = list(ingest.sources)
    for source_name, source in ingest.sources.items():
        spec = tables.get(source.table)
        for column, rule in source.references.items():
            at: KeyPath = ("ingest", "sources", source_name, "references", column)
            before = order[: order.index(source_name)]
            if rule.source not in before:
                if rule.source == source_name:
                    found = f"source {rule.source!r} itself"
                elif rule.source in ingest.sources:
                    found = f"source {rule.source!r}, loaded after {source_name}"
                else:
                    found = f"unknown source {rule.source!r}"
                yield (*at, "source"), found, f"a source declared before {source_name} in ingest.sources: {before}"
                continue
            if rule.source in ingest.absent_sources and source_name not in ingest.absent_sources:
                yield (
                    (*at, "source"),
                    f"{rule.source}, declared in ingest.absent_sources (every {column} would be {rule.reason})",
                    f"a present source, or {source_name} declared absent too",
                )
            target = ingest.sources[rule.source]
            other = tables.get(target.table)
            if spec is None or other is None:
                continue  # reported by Config.reference_errors
            if len(other.key) != 1:
                yield (*at, "source"), f"{target.table} keyed by {list(other.key)}", "a table keyed by one column"
                continue
            pairs = [(column, other.key[0], "source")]
            pairs += [(mine, theirs, f"agree.{mine}") for mine, theirs in rule.agree.items()]
            pairs += [(mine, theirs, f"not_before.{mine}") for mine, theirs in rule.not_before.items()]
            for mine, theirs, key in pairs:
                if theirs not in other.column_names:
                    yield (
                        (*at, *key.split(".")),
                        f"undefined column {theirs!r} of {target.table}",
                        f"one of {list(other.column_names)}",
                    )
                    continue
                if mine not in spec.column_names:
                    continue  # reported by Config.reference_errors
                mine_type, their_type = spec.column(mine).type, other.column(theirs).type
                times = key.startswith("not_before.")
                if not (mine_type == their_type == "timestamp" if times else mine_type == their_type):
                    yield (
                        (*at, *key.split(".")),
                        f"{source.table}.{mine} ({mine_type}) against {target.table}.{theirs} ({their_type})",
                        "two timestamp columns" if times else "columns of the same type",
                    )


def absent_source_errors(
    ingest: IngestConfig, features: FeaturesConfig, models: ModelsConfig
) -> Iterator[tuple[KeyPath, str, str]]:
    """What an absent source cannot be: the users or orders every snapshot is built from, or the input of a
    target's population or label (the overlay that declares the source absent drops such targets)."""
    absent = absent_tables(ingest)
    for core in (features.sources.users.table, features.sources.orders.table):
        if core in absent:
            yield ("ingest", "absent_sources"), f"{absent[core]} ({core})", "sources other than users and orders"
    for name, target in models.targets.items():
        for used in target.inputs():
            table = getattr(models.inputs, used)
            if table in absent:
                rule = "label" if used in RULE_INPUTS[target.label.kind] else "population"
                yield (
                    ("models", "targets", name, rule),
                    f"target {name} reads source {absent[table]} ({table}), declared in ingest.absent_sources",
                    f"targets over present sources only: drop it with models.targets.{name}: null",
                )
