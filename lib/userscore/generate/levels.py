"""Member levels: a user is upgraded when cumulative non-refunded spend crosses a level's threshold.

One level change per upgrade, at the time of the order that crossed it (an order crossing two thresholds
gives two changes at the same time). Spend is summed in integer cents so the crossing is exact.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def level_index(cents: Column, thresholds: tuple[float, ...]) -> Column:
    """How many thresholds above the first (0) a cumulative spend in cents has reached."""
    reached = [F.when(cents >= F.lit(round(t * 100)), 1).otherwise(0) for t in thresholds[1:]]
    return sum(reached, F.lit(0)) if reached else F.lit(0)


def level_changes(orders: DataFrame, levels: tuple[str, ...], thresholds: tuple[float, ...]) -> DataFrame:
    """Internal level changes (``level`` = index of ``to_level``) from internal orders."""
    paid = orders.where(~F.col("is_refunded") & (F.col("amount") > 0)).select(
        "idx", "user_id", "k", "ts", F.round(F.col("amount") * 100).cast("long").alias("cents")
    )
    running = Window.partitionBy("idx").orderBy("ts", "k").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    cumulative = paid.withColumn("cum", F.sum("cents").over(running))
    before = level_index(F.col("cum") - F.col("cents"), thresholds)
    after = level_index(F.col("cum"), thresholds)
    names = F.array(*(F.lit(level) for level in levels))
    width_format = F.regexp_extract(F.col("user_id"), r"^u-(.*)$", 1)
    return (
        cumulative.where(after > before)
        .select("idx", "user_id", "ts", F.explode(F.sequence(before + 1, after)).alias("level"))
        .select(
            F.format_string("c-%s-%d", width_format, F.col("level")).alias("change_id"),
            "idx",
            "user_id",
            "ts",
            names[F.col("level") - 1].alias("from_level"),
            names[F.col("level")].alias("to_level"),
            "level",
        )
    )


def current_levels(changes: DataFrame) -> DataFrame:
    """Per user with at least one upgrade: idx, ``level`` (highest reached) and ``level_ts`` (when)."""
    return changes.groupBy("idx").agg(F.max("level").alias("level"), F.max("ts").alias("level_ts"))
