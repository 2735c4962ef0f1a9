"""Raw records -> the raw fields as text, then typed silver columns.

Every raw field is first carried as text in the struct column ``_raw`` (JSON values as their JSON text,
Parquet/Delta values cast to string), so that a value of the wrong type survives to the checks instead
of failing the read. Typed columns are then derived with ``try_cast``-style functions that return null
where a value does not convert; the rules (rules.py) turn "raw present but typed null" into a reason.
Helper columns start with ``_`` and never reach a silver table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.ingest import BATCH_COLUMN, SourceConfig
from userscore.config.tables import TableSpec

RAW = "_raw"  # struct<field: string>: every declared raw field as text (null when absent)
PARSED = "_parsed"  # the record is a JSON object naming each field once / a table row: its fields can be checked
REPEATED = "_repeated"  # array<string>: field names a JSON line uses more than once (empty if none)
VALID_UTF8 = "_valid_utf8"
RAW_HEX = "_raw_hex"  # hex of the raw bytes of a line that is not valid UTF-8 (else null)
RAW_RECORD = "_raw_record"  # the record as text, as kept in quarantine
ARRIVAL = "_arrival"  # landing order: (file, block start, row id) - the first-seen record wins a key conflict

_CORRUPT = "_corrupt_record"
# ISO-8601 date or date-time, optional fraction and zone; no zone means UTC (the session time zone).
_ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"

Redact = Callable[[Column], Column]


@dataclass(frozen=True)
class Field:
    """One silver column as ingest fills it.

    ``raw`` is the raw field it comes from (None for derived columns); ``derived`` is ``batch`` (the
    ingest batch id) or ``month`` (first day of the event time's month); ``hashed`` marks PII.
    """

    name: str
    type: str
    required: bool
    raw: str | None = None
    hashed: bool = False
    derived: Literal["batch", "month"] | None = None


def source_fields(spec: TableSpec, source: SourceConfig) -> tuple[Field, ...]:
    """The silver columns of ``spec`` and where each comes from in ``source``'s raw records."""
    hashed_from = {target: raw for raw, target in source.pii.items()}
    fields = []
    for column in spec.columns:
        # A column with a default may be absent from the raw record (fill.py fills it).
        required = not column.nullable and column.name not in source.defaults
        if column.name == BATCH_COLUMN:
            fields.append(Field(column.name, column.type, required, derived="batch"))
        elif column.name == source.month_column:
            fields.append(Field(column.name, column.type, required, derived="month"))
        elif column.name in hashed_from:
            fields.append(Field(column.name, column.type, required, raw=hashed_from[column.name], hashed=True))
        else:
            fields.append(Field(column.name, column.type, required, raw=column.name))
    return tuple(fields)


def raw_names(fields: Sequence[Field]) -> list[str]:
    return [f.raw for f in fields if f.raw is not None]


def json_records(lines: DataFrame, names: Sequence[str], redact: Mapping[str, Redact] | None = None) -> DataFrame:
    """JSON lines (column ``value``) -> the raw-record columns.

    A line is parsed when it is a JSON object that names each field once: with a name used twice, which
    value counts depends on the reader (Spark's takes the last), so such a line is malformed. Non-UTF-8
    bytes are flagged and kept as hex. The raw record is the line verbatim (invalid bytes replaced by
    U+FFFD). When ``redact`` names PII fields, the raw record is instead rebuilt from the declared fields
    with those fields redacted, and is null for a line that does not parse (its PII cannot be located).
    """
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names] + [T.StructField(_CORRUPT, T.StringType())])
    value = F.col("value")
    parsed = F.from_json(value, schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT})
    scanned = lines.select(
        value,
        _arrival().alias(ARRIVAL),
        parsed.alias("_json"),
        # The top-level names, unescaped and repeats included; null for anything but a JSON object (arrays,
        # scalars, broken text, "").
        F.json_object_keys(value).alias("_keys"),
        F.is_valid_utf8(value).alias(VALID_UTF8),
    )
    keys = F.col("_keys")
    out = scanned.select(
        value,
        F.col(ARRIVAL),
        F.col("_json"),
        # The parser stops after the object, so text after it is caught by the closing-brace test.
        (keys.isNotNull() & value.rlike(r"\}\s*$")).alias("_is_object"),
        # Only lines with a repeat pay for finding which names repeat.
        F.when(F.size(keys) > F.size(F.array_distinct(keys)), _repeated(keys))
        .otherwise(F.array().cast("array<string>"))
        .alias(REPEATED),
        F.col(VALID_UTF8),
    )
    is_parsed = F.col("_is_object") & F.col(f"_json.{_CORRUPT}").isNull() & (F.size(F.col(REPEATED)) == 0)
    raw = F.struct(*[F.col(f"_json.`{n}`").alias(n) for n in names])
    if redact:
        fields = [redact[n](F.col(f"_json.`{n}`")).alias(n) if n in redact else F.col(f"_json.`{n}`") for n in names]
        record = F.when(is_parsed, _to_json(F.struct(*fields)))
    else:
        record = F.make_valid_utf8(value)
    return out.select(
        raw.alias(RAW),
        is_parsed.alias(PARSED),
        F.col(REPEATED),
        F.col(VALID_UTF8),
        F.when(~F.col(VALID_UTF8), F.lower(F.hex(value.cast("binary")))).alias(RAW_HEX),
        record.alias(RAW_RECORD),
        F.col(ARRIVAL),
    )


def table_records(rows: DataFrame, names: Sequence[str], redact: Mapping[str, Redact] | None = None) -> DataFrame:
    """Parquet/Delta rows -> the raw-record columns. Absent fields are null; the raw record is the whole
    row as JSON (all columns, nulls included) with PII fields redacted."""
    present = set(rows.columns)
    redact = redact or {}
    raw = F.struct(
        *[(F.col(f"`{n}`").cast("string") if n in present else F.lit(None).cast("string")).alias(n) for n in names]
    )
    record = F.struct(
        *[
            (redact[c](F.col(f"`{c}`").cast("string")) if c in redact else F.col(f"`{c}`")).alias(c)
            for c in rows.columns
        ]
    )
    return rows.select(
        raw.alias(RAW),
        F.lit(True).alias(PARSED),
        F.array().cast("array<string>").alias(REPEATED),  # a table row names each column once
        F.lit(True).alias(VALID_UTF8),
        F.lit(None).cast("string").alias(RAW_HEX),
        _to_json(record).alias(RAW_RECORD),
        _arrival().alias(ARRIVAL),
    )


def parse_timestamp(text: Column) -> Column:
    """An ISO-8601 string as a timestamp (UTC when no zone is given); null when it is not one."""
    trimmed = F.trim(text)
    return F.when(trimmed.rlike(_ISO_TIMESTAMP), trimmed.try_cast("timestamp"))


def parse_boolean(text: Column) -> Column:
    """``true``/``false`` (any case) only: Spark's cast would also accept yes/no/1/0/t/f."""
    lowered = F.lower(F.trim(text))
    return F.when(lowered == "true", F.lit(True)).when(lowered == "false", F.lit(False))


def cast_text(text: Column, type_name: str) -> Column:
    """A raw text value as ``type_name``; null when it does not convert."""
    if type_name == "string":
        return text
    if type_name == "timestamp":
        return parse_timestamp(text)
    if type_name == "boolean":
        return parse_boolean(text)
    return F.trim(text).try_cast(type_name)


def typed_columns(
    records: DataFrame,
    fields: Sequence[Field],
    batch_id: str,
    event_time: str | None,
    hash_pii: Redact,
) -> DataFrame:
    """Add the typed silver columns (named as in silver) next to the raw-record columns."""
    typed: dict[str, Column] = {}
    for f in fields:
        if f.raw is not None:
            text = F.col(f"{RAW}.`{f.raw}`")
            typed[f.name] = hash_pii(text) if f.hashed else cast_text(text, f.type)
        elif f.derived == "batch":
            typed[f.name] = F.lit(batch_id)
    for f in fields:
        if f.derived == "month":
            typed[f.name] = F.trunc(typed[event_time], "month") if event_time in typed else F.lit(None).cast("date")
    return records.select("*", *[typed[f.name].alias(f.name) for f in fields])


def _repeated(names: Column) -> Column:
    """The names that occur more than once, sorted. Neighbours are compared after a sort, so a hostile
    line with very many names costs n log n, not n squared."""
    ordered = F.array_sort(names)
    return F.array_distinct(F.filter(ordered, lambda name, i: (i > 0) & (name == F.get(ordered, i - 1))))


def _arrival() -> Column:
    """Where a record sits in the landed files; must be taken on the scan, before any shuffle. The row id
    grows with the position inside one file split, which the block start orders within a file."""
    return F.struct(
        F.input_file_name().alias("file"),
        F.input_file_block_start().alias("block"),
        F.monotonically_increasing_id().alias("row"),
    )


def _to_json(struct: Column) -> Column:
    return F.to_json(struct, {"ignoreNullFields": "false"})
