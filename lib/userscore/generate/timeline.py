"""The history window as epoch seconds, its calendar months with seasonal weights, and UTC formatting.

Times are carried as epoch seconds (long) while generating and formatted to ISO-8601 UTC strings only at
the end, with date arithmetic that does not depend on the session time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

DAY = 86_400
HOUR = 3_600

# Relative activity per hour of day (UTC): quiet nights, a lunch bump and an evening peak.
HOUR_WEIGHTS = (
    0.25, 0.12, 0.06, 0.05, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0, 1.05, 1.15,
    1.3, 1.15, 1.0, 1.0, 1.0, 1.1, 1.3, 1.6, 1.8, 1.75, 1.3, 0.65,
)  # fmt: skip


def epoch_seconds(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class Timeline:
    """[start, end) in epoch seconds and the calendar months that overlap it (clipped to the window)."""

    start: int
    end: int
    month_starts: tuple[int, ...]
    month_ends: tuple[int, ...]
    month_numbers: tuple[int, ...]  # 1..12
    weekday_weights: tuple[float, ...]  # Mon..Sun, normalised to mean 1

    @classmethod
    def build(cls, end_date: dt.date, history_days: int, weekday_weights: tuple[float, ...]) -> Timeline:
        first = end_date - dt.timedelta(days=history_days)
        starts, ends, numbers = [], [], []
        month = dt.date(first.year, first.month, 1)
        while month < end_date:
            following = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
            starts.append(epoch_seconds(max(month, first)))
            ends.append(epoch_seconds(min(following, end_date)))
            numbers.append(month.month)
            month = following
        mean = sum(weekday_weights) / len(weekday_weights)
        return cls(
            start=epoch_seconds(first),
            end=epoch_seconds(end_date),
            month_starts=tuple(starts),
            month_ends=tuple(ends),
            month_numbers=tuple(numbers),
            weekday_weights=tuple(w / mean for w in weekday_weights),
        )

    @property
    def months(self) -> int:
        return len(self.month_starts)

    def month_index(self) -> Column:
        """``sequence(0, months - 1)``: the array to map a per-month quantity over."""
        return F.sequence(F.lit(0), F.lit(self.months - 1))

    def month_start(self, m: Column) -> Column:
        return _long_array(self.month_starts)[m]

    def month_end(self, m: Column) -> Column:
        return _long_array(self.month_ends)[m]

    def month_weight(self, m: Column, month_weights: tuple[float, ...]) -> Column:
        """The seasonal weight of month ``m`` of the window (calendar month's weight)."""
        return F.expr(_sql_array(float(month_weights[n - 1]) for n in self.month_numbers))[m]

    def weekday_weight(self, seconds: Column) -> Column:
        return F.expr(_sql_array(self.weekday_weights))[weekday(seconds)]

    @property
    def max_weekday_weight(self) -> float:
        return max(self.weekday_weights)


def _long_array(values: tuple[int, ...]) -> Column:
    return F.expr("array(" + ", ".join(f"{v}L" for v in values) + ")")


def _sql_array(values: Iterable[float]) -> str:
    """``array(...)`` of doubles as SQL text: one call instead of one per element."""
    return "array(" + ", ".join(f"{float(v):.17f}D" for v in values) + ")"


def weekday(seconds: Column) -> Column:
    """Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday)."""
    return F.pmod(F.floor(seconds / DAY) + F.lit(3), F.lit(7)).cast("int")


def iso_utc(seconds: Column) -> Column:
    """Epoch seconds -> ``yyyy-MM-ddTHH:mm:ssZ`` (independent of the session time zone)."""
    secs = seconds.cast("long")
    days = F.floor(secs / DAY)
    of_day = secs - days * DAY
    return F.concat(
        F.date_format(F.date_from_unix_date(days.cast("int")), "yyyy-MM-dd"),
        F.lit("T"),
        _two_digits(F.floor(of_day / HOUR)),
        F.lit(":"),
        _two_digits(F.pmod(F.floor(of_day / 60), F.lit(60))),
        F.lit(":"),
        _two_digits(F.pmod(of_day, F.lit(60))),
        F.lit("Z"),
    )


def _two_digits(number: Column) -> Column:
    return F.lpad(number.cast("int").cast("string"), 2, "0")


def as_timestamp(seconds: Column) -> Column:
    return F.timestamp_seconds(seconds.cast("long"))
