"""The RFM segment map from config, checked cell by cell against the written-out grid."""

from __future__ import annotations

from pyspark.sql import functions as F

from tests.features.reference import GRID
from userscore.features.segments import fm_score, segment


def test_every_r_fm_pair_maps_to_the_grid(spark, features_config):
    rules = features_config.features.rfm.segments
    pairs = spark.createDataFrame([(r, fm) for r in range(1, 6) for fm in range(1, 6)], "r int, fm int")
    got = {
        (row.r, row.fm): row.s
        for row in pairs.select("r", "fm", segment(F.col("r"), F.col("fm"), rules).alias("s")).collect()
    }
    assert got == {(r, fm): GRID[r][fm - 1] for r in range(1, 6) for fm in range(1, 6)}
    assert len(set(got.values())) == 11


def test_fm_score_is_the_mean_rounded_half_up(spark):
    pairs = spark.createDataFrame([(f, m) for f in range(1, 6) for m in range(1, 6)], "f int, m int")
    got = {(r.f, r.m): r.fm for r in pairs.select("f", "m", fm_score(F.col("f"), F.col("m")).alias("fm")).collect()}
    assert got == {(f, m): (f + m + 1) // 2 for f in range(1, 6) for m in range(1, 6)}
    assert got[(1, 2)] == 2 and got[(4, 5)] == 5 and got[(1, 1)] == 1
