"""Raw text -> typed values: what converts and what becomes null (and so a bad_type / bad_timestamp)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from userscore.ingest.parse import cast_text


def _cast(spark, values, type_name):
    df = spark.createDataFrame([(v,) for v in values], "v string")
    return [r.t for r in df.select(cast_text(F.col("v"), type_name).alias("t")).collect()]


def test_timestamps_are_iso_8601_in_utc(spark):
    values = [
        "2025-03-01T10:22:33Z",
        "2025-03-01T10:22:33.5+08:00",
        "2025-03-01 10:22:33",
        "2025-03-01",
        "2025-13-45T00:00:00Z",
        "2025",
        "01/03/2025 10:22",
        "not a time",
    ]
    assert _cast(spark, values, "timestamp") == [
        dt.datetime(2025, 3, 1, 10, 22, 33),
        dt.datetime(2025, 3, 1, 2, 22, 33, 500000),
        dt.datetime(2025, 3, 1, 10, 22, 33),
        dt.datetime(2025, 3, 1),
        None,
        None,
        None,
        None,
    ]


def test_numbers_and_booleans_convert_strictly(spark):
    assert _cast(spark, ["129.5", " 20 ", "12,50", "1e3", "two"], "double") == [129.5, 20.0, None, 1000.0, None]
    assert _cast(spark, ["2", "2.0", "two", "99999999999"], "int") == [2, None, None, None]
    assert _cast(spark, ["true", "FALSE", "yes", "1"], "boolean") == [True, False, None, None]
