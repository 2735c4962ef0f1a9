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
        total, offsets, running = sum(counts.values()), {}, 0
        for part in sorted(counts):
            offsets[part], running = running, running + counts[part]
        offset = F.create_map(*[x for p, o in offsets.items() for x in (F.lit(p), F.lit(o))]) if offsets else F.lit(0)
        below = F.rank().over(Window.partitionBy("_part").orderBy(column)) - 1
        out = ranged.withColumn(alias, ((offset[F.col("_part")] if offsets else offset) + below) / F.lit(max(total, 1)))
        return out.drop("_part").localCheckpoint(eager=True)
    finally:
        ranged.unpersist()
