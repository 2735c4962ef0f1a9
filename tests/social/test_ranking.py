"""Exact percentiles without a single-task sort (userscore.social.ranking), against plain Python."""

from __future__ import annotations

import random

import pytest

from userscore.social.ranking import lower_share


def test_share_of_strictly_lower_values_with_ties_across_partitions(spark):
    rng = random.Random(7)
    values = [rng.choice([0.5, 1.0, 1.5, 2.0, 2.5]) * rng.choice([1, 1, 10]) for _ in range(60)]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "id int, v double")
    got = {r["id"]: r["share"] for r in lower_share(df, "v", "share", partitions=4).collect()}
    assert got == {i: pytest.approx(sum(1 for w in values if w < v) / 60) for i, v in enumerate(values)}
    empty = spark.createDataFrame([], "id int, v double")
    assert lower_share(empty, "v", "share", partitions=4).collect() == []
