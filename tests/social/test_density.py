"""Community density (userscore.social.communities.density) for communities too big for int arithmetic."""

from __future__ import annotations

from pyspark.sql import functions as F

from userscore.social.communities import density


def test_density_of_communities_beyond_46341_members(spark):
    # n (n - 1) exceeds 2^31 - 1 from n = 46,342 on; the benchmark's 250,000-member community overflowed.
    rows = [(3, 2), (46_342, 10), (250_000, 1_000_000)]
    frame = spark.createDataFrame(rows, "size int, edges long")
    got = [r[0] for r in frame.select(density(F.col("size"), F.col("edges"))).collect()]
    assert got == [2 / 3, 10 / (46_342 * 46_341 / 2), 1_000_000 / (250_000 * 249_999 / 2)]
