"""Values a raw record may leave out, and the times of its flags.

- ``defaults``: a column the raw record leaves null takes another column's value (silver.orders:
  ``updated_at`` defaults to ``order_ts``, so raw files from before the source sent update times still
  ingest, each order being its own first and only version).
- ``flag_times``: a flag and the time it became true (``is_refunded`` -> ``refunded_at``). A true flag
  without a time gets the record's version time (else its event time): the source knew of it by then,
  so point-in-time computations see it no earlier than they could have. A time on a false flag, or one
  before the event time, contradicts the record: ``inconsistent_time``.
Runs after the field checks (which judge the raw values) and before deduplication (which compares the
filled values).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.ingest.rules import add_problem


def fill_defaults(records: DataFrame, defaults: Mapping[str, str]) -> DataFrame:
    """Each column of ``defaults`` takes the value of its default column where it is null."""
    for column, source in defaults.items():
        records = records.withColumn(column, F.coalesce(F.col(f"`{column}`"), F.col(f"`{source}`")))
    return records


def fill_flag_times(
    records: DataFrame, flag_times: Mapping[str, str], *, default_time: str, event_time: str | None
) -> DataFrame:
    """Fill the time of a true flag without one with ``default_time``; flag contradictory times."""
    for flag, time in flag_times.items():
        set_flag, at = F.col(f"`{flag}`"), F.col(f"`{time}`")
        records = records.transform(
            add_problem,
            at.isNotNull() & ~F.coalesce(set_flag, F.lit(True)),
            "inconsistent_time",
            f"inconsistent_time: {time} set but {flag} is false",
        )
        if event_time is not None:
            records = records.transform(
                add_problem,
                F.coalesce(at < F.col(f"`{event_time}`"), F.lit(False)),
                "inconsistent_time",
                f"inconsistent_time: {time} before {event_time}",
            )
        records = records.withColumn(time, F.when(set_flag & at.isNull(), F.col(f"`{default_time}`")).otherwise(at))
    return records
