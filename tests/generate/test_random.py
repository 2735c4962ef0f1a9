"""Hash-based randomness and time formatting, against hand-worked values and distribution moments."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from userscore.generate.random import normal, padded, pick, poisson, uniform
from userscore.generate.timeline import Timeline, iso_utc, weekday

N = 20_000


def test_iso_utc_weekday_and_padding_on_hand_worked_values(spark):
    seconds = [0, 1_700_000_000, 951_782_400 + 3_661, 4_102_444_799]
    df = spark.createDataFrame([(s,) for s in seconds], "s long").select(
        "s", iso_utc(F.col("s")).alias("iso"), weekday(F.col("s")).alias("weekday")
    )
    assertDataFrameEqual(
        df,
        [
            Row(s=0, iso="1970-01-01T00:00:00Z", weekday=3),  # a Thursday
            Row(s=1_700_000_000, iso="2023-11-14T22:13:20Z", weekday=1),  # a Tuesday
            Row(s=951_786_061, iso="2000-02-29T01:01:01Z", weekday=1),
            Row(s=4_102_444_799, iso="2099-12-31T23:59:59Z", weekday=3),
        ],
    )
    padded_values = spark.range(1).select(padded(F.lit(7), 4).alias("a"), padded(F.lit(12345), 4).alias("b")).first()
    assert (padded_values["a"], padded_values["b"]) == ("0007", "12345")


def test_timeline_covers_the_history_in_calendar_months():
    timeline = Timeline.build(dt.date(2026, 11, 1), 730, (1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0))
    assert timeline.start == int(dt.datetime(2024, 11, 1, tzinfo=dt.UTC).timestamp())
    assert timeline.end == int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp())
    assert timeline.months == 24 and timeline.month_numbers[:3] == (11, 12, 1)
    assert (
        timeline.month_starts[1] == timeline.month_ends[0] == int(dt.datetime(2024, 12, 1, tzinfo=dt.UTC).timestamp())
    )
    assert timeline.weekday_weights == pytest.approx((7 / 9,) * 5 + (14 / 9,) * 2)  # mean 1
    # A window starting mid-month clips its first month.
    clipped = Timeline.build(dt.date(2026, 3, 1), 75, (1.0,) * 7)
    assert clipped.month_starts[0] == int(dt.datetime(2025, 12, 16, tzinfo=dt.UTC).timestamp())


def test_pick_follows_cumulative_weight_boundaries(spark):
    us = [0.0, 0.05, 0.1, 0.29, 0.3, 0.59, 0.6, 0.999]
    df = spark.createDataFrame([(u,) for u in us], "u double")
    got = df.select("u", pick(["a", "b", "c", "d"], "u", [1, 2, 3, 4]).alias("weighted"),
                    pick(["a", "b", "c", "d"], F.col("u")).alias("even"))  # fmt: skip
    # Buckets [0, .1) [.1, .3) [.3, .6) [.6, 1) and, unweighted, quarters.
    expected = ["a", "a", "b", "b", "c", "c", "d", "d"], ["a", "a", "a", "b", "b", "c", "c", "d"]
    assertDataFrameEqual(got, [Row(u=u, weighted=w, even=e) for u, w, e in zip(us, *expected, strict=True)])


def test_draws_are_deterministic_and_have_the_right_moments(spark):
    idx = F.col("id")
    draws = spark.range(0, N, 1, 3).select(
        uniform(1, "u", idx).alias("u"),
        normal(1, "z", idx).alias("z"),
        poisson(F.lit(0.7), 1, "p1", idx).alias("p_small"),
        poisson(F.lit(4.0), 1, "p4", idx).alias("p_mid"),
        poisson(F.lit(45.0), 1, "p45", idx).alias("p_large"),
        poisson(F.lit(0.0), 1, "p0", idx).alias("p_zero"),
    )
    # Another partitioning, the same values.
    again = spark.range(0, N, 1, 7).select(uniform(1, "u", idx).alias("u"))
    assertDataFrameEqual(draws.select("u"), again)
    stats = draws.agg(
        F.min("u"), F.max("u"), F.avg("u"), F.avg("z"), F.stddev("z"), F.max("p_zero"),
        *(f(c) for c in ("p_small", "p_mid", "p_large") for f in (F.avg, F.variance)),
    ).first()  # fmt: skip
    assert stats[0] >= 0.0 and stats[1] < 1.0 and abs(stats[2] - 0.5) < 4 * math.sqrt(1 / 12 / N)
    assert abs(stats[3]) < 4 / math.sqrt(N) and abs(stats[4] - 1.0) < 0.03
    assert stats[5] == 0
    for i, mean in enumerate((0.7, 4.0, 45.0)):
        got_mean, got_variance = stats[6 + 2 * i], stats[7 + 2 * i]
        assert abs(got_mean - mean) < 4 * math.sqrt(mean / N), (mean, got_mean)
        assert abs(got_variance / mean - 1.0) < 0.1, (mean, got_variance)
