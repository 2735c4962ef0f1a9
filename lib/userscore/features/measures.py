"""Config-declared measures compiled into ONE conditional aggregation per source.

Every measure of a source (orders or events) becomes one or a few aggregate expressions of a single
``groupBy(user_id)`` over that source's rows before D: windows are conditions comparing the row's time
with timestamp literals (no per-row date arithmetic, never exploded rows), and every aggregate has a
fixed-width buffer, so Spark runs one code-generated hash aggregation with map-side partial
aggregation. Measures that need a per-user finish (days since, mean gap, distinct days, trends)
aggregate into internal columns (prefixed ``_``) that :func:`finish_measures` turns into output columns
with documented defaults once the users base (and its ``tenure_days``) is joined.

Distinct active days use a per-user day bitmap: ``bit_or(1 << day_offset)`` in 64-day words, one
fixed-width aggregate per word; the number of distinct days in any window is the popcount of the words
under a mask. This is exact, needs one pass, and avoids the Expand that several count(DISTINCT ...)
with different conditions would add to the plan.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.columns import measure_columns, trend_column
from userscore.config.features import FeaturesConfig, MeasureSpec
from userscore.filters import where_condition
from userscore.keys import USER_ID

DAYS_AGO = "_days_ago"  # whole days from the row's date to D: 1 for the day before D
_AGE_DAYS = "_age_days"  # fractional days from the row's time to D (decay weights)
_SECONDS_PER_DAY = 86400.0
_WORD_BITS = 64


@dataclass(frozen=True)
class Timing:
    """The snapshot-wide parameters every measure is computed with."""

    as_of: dt.date
    windows: tuple[int, ...]
    trend_days: int
    half_life_days: float

    @classmethod
    def of(cls, as_of: dt.date, config: FeaturesConfig) -> Timing:
        return cls(as_of, tuple(config.windows), config.trend_days, config.half_life_days)

    @property
    def as_of_ts(self) -> Column:
        """Midnight UTC of D (the session time zone is UTC)."""
        return F.lit(self.as_of).cast("timestamp")


def point_in_time(df: DataFrame, time_column: str, month_column: str | None, as_of: dt.date) -> DataFrame:
    """Rows with event time < D; the month predicate lets Delta prune partitions of later months."""
    if month_column:
        df = df.where(F.col(month_column) <= F.lit(as_of.replace(day=1)))
    return df.where(F.col(time_column) < F.lit(as_of).cast("timestamp"))


def with_age(df: DataFrame, time_column: str, timing: Timing, measures: Mapping[str, MeasureSpec]) -> DataFrame:
    """Add the per-row ages the measures need: whole days (day bitmaps), fractional days (decay)."""
    if any(spec.agg == "distinct_days" for spec in measures.values()):
        df = df.withColumn(DAYS_AGO, F.datediff(F.lit(timing.as_of), F.to_date(F.col(time_column))))
    if any(spec.decay for spec in measures.values()):
        seconds = F.unix_micros(timing.as_of_ts) - F.unix_micros(F.col(time_column))
        df = df.withColumn(_AGE_DAYS, seconds / (_SECONDS_PER_DAY * 1e6))
    return df


def measure_aggregates(
    measures: Mapping[str, MeasureSpec], time_column: str, timing: Timing, trends: Iterable[str] = ()
) -> list[Column]:
    """The aggregate expressions computing ``measures`` over rows prepared by :func:`with_age`.

    Args:
        measures: name -> spec, all of the same source.
        trends: names of measures that also need their two trend periods.
    """
    trends = set(trends)
    time = F.col(time_column)
    return [a for name, spec in measures.items() for a in _aggregates(name, spec, time, timing, name in trends)]


def aggregate_measures(
    rows: DataFrame,
    measures: Mapping[str, MeasureSpec],
    time_column: str,
    timing: Timing,
    trends: Iterable[str] = (),
) -> DataFrame:
    """ONE groupBy(user_id) computing every measure over ``rows`` (already point-in-time filtered)."""
    rows = with_age(rows, time_column, timing, measures)
    return rows.groupBy(USER_ID).agg(*measure_aggregates(measures, time_column, timing, trends))


def finish_measures(
    df: DataFrame,
    measures: Mapping[str, MeasureSpec],
    timing: Timing,
    trends: Iterable[str] = (),
    tenure_days: str = "tenure_days",
) -> DataFrame:
    """Turn aggregated (possibly missing, after a left join) measures into non-null output columns.

    Defaults: counts, sums, distinct days and mean gaps 0; days_since_last = tenure_days + 1 (never
    active is treated as "last seen the day before registering"); days_since_first 0; trends 1.0.
    """
    trends = set(trends)
    outputs = [
        column
        for name, spec in measures.items()
        for column in _finals(name, spec, timing, F.col(tenure_days), name in trends)
    ]
    # count/sum columns are replaced in place by their non-null versions; internals are dropped.
    replaced = {
        c
        for name, spec in measures.items()
        if spec.agg in ("count", "sum")
        for c in measure_columns(name, spec, timing.windows)
    }
    kept = [c for c in df.columns if c not in replaced and not _is_internal_of(c, measures)]
    return df.select(*kept, *outputs)


# -- per-kind aggregation and finish ---------------------------------------------------------------
def internal_column(name: str, part: str) -> str:
    """The name of an internal (dropped) aggregate column of measure ``name``."""
    return f"_{name}__{part}"


def _is_internal_of(column: str, measures: Mapping[str, MeasureSpec]) -> bool:
    return column.startswith("_") and any(column.startswith(f"_{name}__") for name in measures)


def _in_days(time: Column, timing: Timing, low: int, high: int) -> Column:
    """Rows dated D - high .. D - low (days ago in [low, high]), as comparisons with midnight literals."""
    since = time >= F.lit(timing.as_of - dt.timedelta(days=high)).cast("timestamp")
    if low <= 1:
        return since  # rows are already before D
    return since & (time < F.lit(timing.as_of - dt.timedelta(days=low - 1)).cast("timestamp"))


def _count(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _sum(condition: Column, value: Column) -> Column:
    return F.sum(F.when(condition, value))


def _decay_weight(timing: Timing) -> Column:
    return F.pow(F.lit(0.5), F.col(_AGE_DAYS) / F.lit(float(timing.half_life_days)))


def _lookback(spec: MeasureSpec, timing: Timing, trended: bool) -> int:
    longest = max(timing.windows)
    return max(longest, 2 * timing.trend_days) if trended else longest


def _aggregates(name: str, spec: MeasureSpec, time: Column, timing: Timing, trended: bool) -> list[Column]:
    condition = where_condition(spec.where)
    if spec.agg == "distinct_days":
        offset = F.col(DAYS_AGO) - 1
        words = math.ceil(_lookback(spec, timing, trended) / _WORD_BITS)
        return [
            F.bit_or(
                F.when(
                    condition & (offset >= _WORD_BITS * w) & (offset < _WORD_BITS * (w + 1)),
                    F.call_function("shiftleft", F.lit(1).cast("long"), (offset - _WORD_BITS * w).cast("int")),
                )
            ).alias(internal_column(name, f"w{w}"))
            for w in range(words)
        ]
    if spec.agg in ("count", "sum"):
        if spec.agg == "count" and not spec.decay:
            agg = lambda c: _count(c)  # noqa: E731 - exact integer counts
        else:
            value = F.lit(1.0) if spec.agg == "count" else F.col(spec.column).cast("double")
            if spec.decay:
                value = value * _decay_weight(timing)
            agg = lambda c: _sum(c, value)  # noqa: E731
        if spec.windowed:
            out = [agg(condition & _in_days(time, timing, 1, n)).alias(f"{name}_{n}d") for n in timing.windows]
        else:
            out = [agg(condition).alias(name)]
        if trended:
            t = timing.trend_days
            out.append(agg(condition & _in_days(time, timing, 1, t)).alias(internal_column(name, "last")))
            out.append(agg(condition & _in_days(time, timing, t + 1, 2 * t)).alias(internal_column(name, "prev")))
        return out
    first = F.min(F.when(condition, time)).alias(internal_column(name, "first"))
    last = F.max(F.when(condition, time)).alias(internal_column(name, "last"))
    if spec.agg == "days_since_last":
        return [last]
    if spec.agg == "days_since_first":
        return [first]
    if spec.agg == "mean_gap_days":
        return [first, last, _count(condition).alias(internal_column(name, "n"))]
    raise ValueError(f"unknown agg {spec.agg!r}")  # the config parser admits only the kinds above


def _day_mask(low: int, high: int, word: int) -> int:
    """The bits of ``word`` for day offsets in [low - 1, high - 1], as a signed 64-bit value."""
    bits = [o - _WORD_BITS * word for o in range(low - 1, high) if 0 <= o - _WORD_BITS * word < _WORD_BITS]
    mask = sum(1 << b for b in bits)
    return mask - (1 << 64) if mask >= 1 << 63 else mask


def _distinct_days(name: str, low: int, high: int, words: int) -> Column:
    parts = [
        F.bit_count(
            F.coalesce(F.col(internal_column(name, f"w{w}")), F.lit(0).cast("long")).bitwiseAND(
                F.lit(mask).cast("long")
            )
        )
        for w in range(words)
        if (mask := _day_mask(low, high, w)) != 0
    ]
    return reduce(lambda a, b: a + b, parts, F.lit(0)).cast("int")


def _finals(name: str, spec: MeasureSpec, timing: Timing, tenure: Column, trended: bool) -> list[Column]:
    as_of = F.lit(timing.as_of)
    if spec.agg == "distinct_days":
        words = math.ceil(_lookback(spec, timing, trended) / _WORD_BITS)
        out = [_distinct_days(name, 1, n, words).alias(f"{name}_{n}d") for n in timing.windows]
        if trended:
            t = timing.trend_days
            last, prev = _distinct_days(name, 1, t, words), _distinct_days(name, t + 1, 2 * t, words)
            out.append(((last + 1) / (prev + 1)).alias(trend_column(name)))
        return out
    if spec.agg in ("count", "sum"):
        zero = F.lit(0) if spec.agg == "count" and not spec.decay else F.lit(0.0)
        columns = measure_columns(name, spec, timing.windows)
        out = [F.coalesce(F.col(c), zero).alias(c) for c in columns]
        if trended:
            last = F.coalesce(F.col(internal_column(name, "last")), zero)
            prev = F.coalesce(F.col(internal_column(name, "prev")), zero)
            out.append(((last + 1) / (prev + 1)).cast("double").alias(trend_column(name)))
        return out
    if spec.agg == "days_since_last":
        days = F.datediff(as_of, F.to_date(F.col(internal_column(name, "last"))))
        return [F.coalesce(days, tenure + 1).alias(name)]
    if spec.agg == "days_since_first":
        days = F.datediff(as_of, F.to_date(F.col(internal_column(name, "first"))))
        return [F.coalesce(days, F.lit(0)).alias(name)]
    if spec.agg == "mean_gap_days":
        n = F.col(internal_column(name, "n"))
        span = F.unix_micros(F.col(internal_column(name, "last"))) - F.unix_micros(
            F.col(internal_column(name, "first"))
        )
        gap = span / (_SECONDS_PER_DAY * 1e6) / (n - 1)
        return [F.when(n >= 2, gap).otherwise(F.lit(0.0)).alias(name)]
    raise ValueError(f"unknown agg {spec.agg!r}")
