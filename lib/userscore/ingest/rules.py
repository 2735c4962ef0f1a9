"""Record checks: each problem is a (rank, reason, text) struct; a record keeps all of its problems.

The quarantine ``reason`` of a record is its first problem in this fixed precedence order (record-level
problems first, then field-level ones, then problems that need other records):

    invalid_encoding, malformed_record, missing_required, bad_type, bad_timestamp, future_timestamp,
    out_of_range, invalid_value, oversize_string, inconsistent_time, self_link, unknown_user,
    <reasons declared by references rules>, duplicate_key_conflict, superseded_version, version_conflict,
    duplicate_relation

and ``detail`` lists every problem's text, in the same order, separated by ``; ``. A JSON line that is not
an object, or that names a field twice (``{"amount": 1, "amount": 999}``), is a ``malformed_record``. A
``bad_timestamp`` is one that is not ISO-8601 or is before the configured earliest date (year-1 or 1900
placeholders). Field checks run only on records that parsed (a malformed line has no fields to check). A
null or absent value is only a problem for a NOT NULL column of the silver table (``missing_required``,
which also covers blank text); range and allowed-value checks skip nulls. A ``self_link`` is a record whose
``distinct_columns`` (e.g. an edge's two ends) hold equal values; ``duplicate_relation`` (relations.py) is
decided last, on records that passed everything else.

A source's ``references`` rules (check_reference) declare their own reasons: conf/base declares
``unknown_send`` (a response's send_id is no accepted send) and ``send_mismatch`` (its campaign_id or user_id
differs from its send's), which rank where the list above shows, and uses ``inconsistent_time`` for a
response before its send. A declared reason that is a built-in one ranks as the built-in; several declared
reasons of one rank are ordered by name.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.ingest import RangeRule, ReferenceRule
from userscore.ingest.parse import PARSED, RAW, RAW_HEX, REPEATED, VALID_UTF8, Field

REASONS: tuple[str, ...] = (
    "invalid_encoding",
    "malformed_record",
    "missing_required",
    "bad_type",
    "bad_timestamp",
    "future_timestamp",
    "out_of_range",
    "invalid_value",
    "oversize_string",
    "inconsistent_time",
    "self_link",
    "unknown_user",
    "duplicate_key_conflict",
    "superseded_version",
    "version_conflict",
    "duplicate_relation",
)
PROBLEMS = "_problems"  # array<struct<rank, reason, text>>, sorted by rank: the first is the reason
_NUMERIC = ("int", "long", "double")
_REF = "_ref"  # struct of the referenced record's columns, joined by check_reference
_REF_KEY = "_ref_key"


def rank(reason: str) -> int:
    """A reason's precedence: the built-in reasons in REASONS order, a reason declared by a ``references``
    rule right after ``unknown_user``."""
    if reason in REASONS:
        return 2 * REASONS.index(reason)
    return 2 * REASONS.index("unknown_user") + 1


def problem(reason: str, text: str | Column) -> Column:
    """One problem entry; ``text`` is a literal or a Column (e.g. with the raw bytes)."""
    return F.struct(
        F.lit(rank(reason)).alias("rank"),
        F.lit(reason).alias("reason"),
        (F.lit(text) if isinstance(text, str) else text).alias("text"),
    )


def _when(condition: Column, reason: str, text: str | Column) -> Column:
    return F.when(condition, problem(reason, text))


def _present(entries: Sequence[Column]) -> Column:
    return F.filter(F.array(*entries), lambda p: p.isNotNull())


def record_problems() -> list[Column]:
    """Problems of the record as a whole: bytes that are not UTF-8, text that is not a JSON object or one
    that names a field more than once."""
    repeated = F.col(REPEATED)
    malformed = F.when(
        F.size(repeated) > 0,
        F.concat(F.lit("malformed_record: field names used more than once: "), F.array_join(repeated, ", ")),
    ).otherwise(F.lit("malformed_record: not a JSON object"))
    return [
        _when(
            ~F.col(VALID_UTF8),
            "invalid_encoding",
            F.concat(F.lit("invalid_encoding: not valid UTF-8 (raw bytes, hex: "), F.col(RAW_HEX), F.lit(")")),
        ),
        _when(~F.col(PARSED), "malformed_record", malformed),
    ]


def field_problems(
    field: Field,
    *,
    rng: RangeRule | None,
    allowed: Sequence[str] | None,
    allowed_key: str,
    max_string_length: int,
    earliest: dt.datetime,
    latest: dt.datetime,
) -> list[Column]:
    """Problems of one field of a parsed record (see the module docstring for the rules)."""
    if field.raw is None:
        return []  # derived columns (batch id, month) cannot be wrong on their own
    raw, typed, name = F.col(f"{RAW}.`{field.raw}`"), F.col(f"`{field.name}`"), field.raw
    absent = raw.isNull() | (F.trim(raw) == "")
    checks: list[Column] = []
    if field.required:
        checks.append(_when(absent, "missing_required", f"missing_required: {name} is null or blank"))
    if field.type == "timestamp":
        checks.append(_when(~absent & typed.isNull(), "bad_timestamp", f"bad_timestamp: {name} is not ISO-8601"))
        checks.append(_when(typed < F.lit(earliest), "bad_timestamp", f"bad_timestamp: {name} before {_iso(earliest)}"))
        checks.append(
            _when(typed > F.lit(latest), "future_timestamp", f"future_timestamp: {name} after {_iso(latest)}")
        )
    elif field.type != "string" and not field.hashed:
        checks.append(_when(~absent & typed.isNull(), "bad_type", f"bad_type: {name} is not a {field.type}"))
    if rng is not None and field.type in _NUMERIC:
        outside = F.isnan(typed.cast("double"))
        if rng.min is not None:
            outside = outside | (typed < F.lit(rng.min))
        if rng.max is not None:
            outside = outside | (typed > F.lit(rng.max))
        checks.append(
            _when(outside, "out_of_range", f"out_of_range: {name} outside [{_num(rng.min)}, {_num(rng.max)}]")
        )
    if allowed is not None:
        checks.append(_when(~typed.isin(*allowed), "invalid_value", f"invalid_value: {name} not in {allowed_key}"))
    if field.type == "string":
        checks.append(
            _when(
                F.length(raw) > max_string_length,
                "oversize_string",
                f"oversize_string: {name} longer than {max_string_length} characters",
            )
        )
    return [F.when(F.col(PARSED), c) for c in checks]


def with_problems(
    records: DataFrame,
    fields: Sequence[Field],
    *,
    source_name: str,
    ranges: Mapping[str, RangeRule],
    allowed: Mapping[str, Sequence[str]],
    max_string_length: int,
    earliest: dt.datetime,
    latest: dt.datetime,
) -> DataFrame:
    """Add ``_problems``: every record- and field-level problem of each record, in precedence order.

    Args:
        earliest, latest: the earliest and latest acceptable timestamps (the configured earliest date; run
            reference time + tolerance), timezone-aware.
    """
    entries = record_problems()
    for f in fields:
        entries += field_problems(
            f,
            rng=ranges.get(f.name),
            allowed=allowed.get(f.name),
            allowed_key=f"ingest.sources.{source_name}.allowed.{f.name}",
            max_string_length=max_string_length,
            earliest=earliest,
            latest=latest,
        )
    return records.withColumn(PROBLEMS, F.array_sort(_present(entries)))


def add_problem(records: DataFrame, condition: Column, reason: str, text: str) -> DataFrame:
    """Append one more problem where ``condition`` holds, keeping the precedence order."""
    extra = _present([_when(condition, reason, text)])
    return records.withColumn(PROBLEMS, F.array_sort(F.concat(F.col(PROBLEMS), extra)))


def check_distinct(records: DataFrame, columns: Sequence[str]) -> DataFrame:
    """``self_link`` where two of ``columns`` hold the same (non-null) value."""
    pairs = [(a, b) for i, a in enumerate(columns) for b in columns[i + 1 :]]
    # A null end compares as null (no problem here): it is missing_required or allowed, not a self-link.
    equal = functools.reduce(Column.__or__, [F.col(f"`{a}`") == F.col(f"`{b}`") for a, b in pairs])
    if len(columns) == 2:
        text = f"self_link: {columns[0]} equals {columns[1]}"
    else:
        text = f"self_link: two of {', '.join(columns)} are equal"
    return records.transform(add_problem, equal, "self_link", text)


def check_known_users(records: DataFrame, columns: Sequence[str], known_users: DataFrame) -> DataFrame:
    """``unknown_user`` for each of ``columns`` that is set but not among ``known_users.user_id``; the
    problem's text names the column.

    One left join per column against the distinct known ids (Spark broadcasts them when small); ids stay
    distributed.
    """
    known = known_users.select(F.col("user_id").alias("_known_user")).distinct()
    for column in columns:
        joined = records.join(known, F.col(f"`{column}`") == F.col("_known_user"), "left")
        unknown = F.col(f"`{column}`").isNotNull() & F.col("_known_user").isNull()
        records = joined.transform(
            add_problem, unknown, "unknown_user", f"unknown_user: {column} not among accepted users"
        ).drop("_known_user")
    return records


def check_reference(records: DataFrame, column: str, rule: ReferenceRule, referenced: DataFrame, key: str) -> DataFrame:
    """The problems of ``column``'s reference rule: a set value that is not the ``key`` of a ``referenced``
    record is ``rule.reason``; with a referenced record, each ``agree`` column whose set value differs from the
    record's is ``rule.mismatch_reason`` and each ``not_before`` time earlier than the record's is
    ``rule.time_reason``. Texts name the columns, never values (the detail is not erased by user id).

    Args:
        referenced: the referenced source's records, one per ``key`` value (a left join must not multiply
            records); only the key and the compared columns are used.
    """
    theirs = dict.fromkeys([*rule.agree.values(), *rule.not_before.values()])
    compared = [F.struct(*[F.col(f"`{c}`") for c in theirs]).alias(_REF)] if theirs else []
    ref = referenced.select(F.col(f"`{key}`").alias(_REF_KEY), *compared)
    value = F.col(f"`{column}`")
    records = records.join(ref, value == F.col(_REF_KEY), "left")
    found = F.col(_REF_KEY).isNotNull()
    records = records.transform(
        add_problem,
        value.isNotNull() & ~found,
        rule.reason,
        f"{rule.reason}: {column} not among accepted {rule.source}",
    )
    for mine, other in rule.agree.items():
        differs = found & F.col(f"`{mine}`").isNotNull() & ~F.col(f"`{mine}`").eqNullSafe(F.col(f"{_REF}.`{other}`"))
        text = f"{rule.mismatch_reason}: {mine} differs from its {rule.source} record's {other}"
        records = records.transform(add_problem, differs, rule.mismatch_reason, text)
    for mine, other in rule.not_before.items():
        earlier = found & F.coalesce(F.col(f"`{mine}`") < F.col(f"{_REF}.`{other}`"), F.lit(False))
        text = f"{rule.time_reason}: {mine} before its {rule.source} record's {other}"
        records = records.transform(add_problem, earlier, rule.time_reason, text)
    return records.drop(_REF_KEY, _REF)


def reason(problems: Column) -> Column:
    """The quarantine reason: the first problem by precedence."""
    return F.get(problems, 0)["reason"]  # null for a record without problems


def detail(problems: Column) -> Column:
    """Every problem's text, in precedence order."""
    return F.array_join(F.transform(problems, lambda p: p["text"]), "; ")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
