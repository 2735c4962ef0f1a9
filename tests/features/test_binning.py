"""Dynamic quantile scores: ties, duplicate boundaries, populations and the audit rows."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from userscore.features.binning import BinSpec, ColumnBins, bin_scores, boundaries_frame, quantile_bins, score_column


def test_bin_scores_spread_over_one_to_bins_without_gaps_at_the_ends():
    assert bin_scores(4, 5) == (1, 2, 3, 4, 5)
    assert bin_scores(3, 5) == (1, 2, 4, 5)  # 1 + round_half_up(i * 4 / 3)
    assert bin_scores(2, 5) == (1, 3, 5)
    assert bin_scores(1, 5) == (1, 5)
    assert bin_scores(0, 5) == (3,)
    assert bin_scores(3, 5, higher_is_better=False) == (5, 4, 2, 1)


def test_ties_get_equal_scores_and_duplicate_boundaries_merge(spark):
    # x: nearest-rank quantiles at 0.2, 0.4, 0.6, 0.8 of the 10 positive values [1,1,1,1,2,3,5,8,8,8]
    # are 1, 1, 3, 8; 8 is the maximum (no value above it), so the bounds are 1 and 3 -> scores 1, 3, 5.
    # y (lower is better) over the same rows: [5,5,5,5,5,1,2,3,4,9] -> sorted [1,2,3,4,5,5,5,5,5,9],
    # quantiles 2, 4, 5, 5 -> bounds 2, 4, 5 -> mirrored scores 5, 4, 2, 1. Rows with x = 0 are outside
    # the population: they neither move the bounds nor get a bin (default score 1).
    xs = [1, 1, 1, 1, 2, 3, 5, 8, 8, 8, 0, 0]
    ys = [5, 5, 5, 5, 5, 1, 2, 3, 4, 9, 0, 100]
    df = spark.createDataFrame(
        [(f"u{i}", float(x), float(y)) for i, (x, y) in enumerate(zip(xs, ys, strict=True))],
        "user_id string, x double, y double",
    )
    population = F.col("x") > 0
    specs = [BinSpec("x", population), BinSpec("y", population, higher_is_better=False)]
    bins = quantile_bins(df, specs, bins=5, relative_error=0.001)
    assert bins == [ColumnBins("x", (1.0, 3.0), (1, 3, 5), 10), ColumnBins("y", (2.0, 4.0, 5.0), (5, 4, 2, 1), 10)]
    scored = df.select(
        "user_id",
        *[
            score_column(F.col(s.column), s.population, b, default=1).alias(s.column)
            for s, b in zip(specs, bins, strict=True)
        ],
    )
    expected_x = [1, 1, 1, 1, 3, 3, 5, 5, 5, 5, 1, 1]
    expected_y = [2, 2, 2, 2, 2, 5, 5, 4, 4, 1, 1, 1]
    expected = [(f"u{i}", x, y) for i, (x, y) in enumerate(zip(expected_x, expected_y, strict=True))]
    assertDataFrameEqual(scored, spark.createDataFrame(expected, "user_id string, x int, y int"))


def test_all_equal_values_get_the_middle_score_and_empty_population_is_harmless(spark):
    df = spark.createDataFrame([(7.0, True), (7.0, True), (1.0, False)], "v double, buyer boolean")
    same, empty = quantile_bins(
        df, [BinSpec("v", F.col("buyer")), BinSpec("v", F.lit(False))], bins=5, relative_error=0.01
    )
    assert same == ColumnBins("v", (), (3,), 2)
    assert empty == ColumnBins("v", (), (3,), 0)
    got = df.select(score_column(F.col("v"), F.col("buyer"), same, default=1).alias("s"))
    assert [r.s for r in got.collect()] == [3, 3, 1]


def test_boundaries_frame_lists_each_bin_with_its_bounds(spark):
    day = dt.date(2026, 3, 1)
    frame = boundaries_frame(spark, day, [ColumnBins("frequency_365d", (1.0, 2.0), (1, 3, 5), 4)], 0.001)
    assert [tuple(r) for r in frame.collect()] == [
        (day, "frequency_365d", 1, 1, None, 1.0, 4, 0.001),
        (day, "frequency_365d", 2, 3, 1.0, 2.0, 4, 0.001),
        (day, "frequency_365d", 3, 5, 2.0, None, 4, 0.001),
    ]
