"""Exact percentiles over all users without sorting them in one task."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def lower_share(df: DataFrame, column: str, alias: str, partitions: int) -> DataFrame:
    """``df`` with ``alias`` = the share of rows whose ``column`` is strictly lower (0 for the lowest).

    A window ordered over all rows runs in a single task; here the rows are range-partitioned by the value
    (equal values land in the same partition), ranked inside each partition, and offset by the row counts
    of the partitions below: one small collect of per-partition counts, never of rows.
    """
    ranged = df.repartitionByRange(partitions, column).withColumn("_part", F.spark_partition_id()).cache()
    try:
        counts = {r["_part"]: r["n"] for r in ranged.groupBy("_part").agg(F.count(F.lit(1)).alias("n")).collect()}
        if not counts:
            return df.withColumn(alias, F.lit(0.0))
        offsets, running = [], 0
        for part in sorted(counts):
            offsets += [F.lit(part), F.lit(running)]
            running += counts[part]
        below = F.create_map(*offsets)[F.col("_part")] + F.rank().over(Window.partitionBy("_part").orderBy(column)) - 1
        return ranged.withColumn(alias, below / F.lit(running)).drop("_part").localCheckpoint(eager=True)
    finally:
        ranged.unpersist()
