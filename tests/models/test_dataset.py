"""Matured snapshots, the time split, the calibration slice, stratified sampling, and the training set
reading nothing across the label boundary or from other snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.models.conftest import REPURCHASE, orders
from userscore.config.models import FeatureSelection
from userscore.config.params import SplitParams
from userscore.errors import InputError
from userscore.models.dataset import (
    class_fractions,
    feature_columns,
    sample_rows,
    split_snapshots,
    training_set,
)

JAN, FEB, MAR, APR = (dt.date(2026, m, 1) for m in (1, 2, 3, 4))
# Every snapshot may train and calibrate (no limits); the other settings do not affect the split.
SPLIT = SplitParams(
    calibration_fraction=0.25,
    calibration_max_rows=500_000,
    calibration_snapshots=None,
    validation_max_rows=1_000_000,
    max_train_snapshots=None,
    seed=13,
)


def _md5_uniform(text: str) -> float:
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 2**32


def test_newest_matured_snapshot_validates_and_the_horizon_end_is_inclusive():
    # D + 30: JAN -> Jan 31, FEB -> Mar 3, MAR -> Mar 31, APR -> May 1.
    split = split_snapshots([APR, JAN, MAR, FEB], 30, dt.datetime(2026, 3, 31), SPLIT)
    assert (split.train, split.validation, split.unmatured) == ((JAN, FEB), MAR, (APR,))
    assert split.calibration == (JAN, FEB)
    earlier = split_snapshots([JAN, FEB, MAR, APR], 30, dt.datetime(2026, 3, 30, 23, 59, 59), SPLIT)
    assert (earlier.train, earlier.validation) == ((JAN,), FEB)
    limited = split_snapshots(
        [JAN, FEB, MAR], 30, dt.datetime(2026, 4, 1), replace(SPLIT, max_train_snapshots=1, calibration_snapshots=1)
    )
    assert (limited.train, limited.calibration, limited.validation) == ((FEB,), (FEB,), MAR)
    with pytest.raises(InputError, match="need at least 2 feature snapshots"):
        split_snapshots([JAN, FEB], 30, dt.datetime(2026, 3, 2), SPLIT)


def test_class_fractions_keep_or_cap_the_ratio_then_fit_max_rows():
    assert class_fractions({0: 900, 1: 100}, 500, None) == {0: 0.5, 1: 0.5}
    # Cap at 3 negatives per positive: 300 + 100 rows fit in 500.
    assert class_fractions({0: 900, 1: 100}, 500, 3.0) == pytest.approx({0: 1 / 3, 1: 1.0})
    # ... and scaled to 200 rows.
    assert class_fractions({0: 900, 1: 100}, 200, 3.0) == pytest.approx({0: 1 / 6, 1: 0.5})
    assert class_fractions({0: 10, 1: 30}, 1000, 2.0) == pytest.approx({0: 1.0, 1: 2 / 3})


def test_stratified_sampling_selects_exactly_the_rows_whose_hash_is_below_their_class_fraction(spark):
    rows = [(f"u{i:03d}", JAN, int(i % 4 == 0), "train") for i in range(400)]
    df = spark.createDataFrame(rows, "user_id string, as_of_date date, label int, split string")
    fractions = {("train", 0): 0.25, ("train", 1): 0.8}
    got = sample_rows(df, fractions, seed=11).collect()
    expected = {
        (u, y) for u, d, y, _ in rows if _md5_uniform(f"sample-11|{u}|{d.isoformat()}") < fractions[("train", y)]
    }
    assert {(r.user_id, r.label) for r in got} == expected
    # Same rows on a re-run, and the class ratio moves as the fractions say (100 positives, 300 negatives).
    assert {(r.user_id, r.label) for r in sample_rows(df, fractions, seed=11).collect()} == expected
    positives = sum(1 for _, y in expected if y == 1)
    assert abs(positives - 80) <= 12 and abs(len(expected) - positives - 75) <= 15


def test_feature_columns_default_to_numeric_minus_exclude():
    schema = T.StructType(
        [
            T.StructField("user_id", T.StringType()),
            T.StructField("as_of_date", T.DateType()),
            T.StructField("recency_days", T.IntegerType()),
            T.StructField("monetary_365d", T.DoubleType()),
            T.StructField("frequency_30d", T.LongType()),
            T.StructField("rfm_segment", T.StringType()),
            T.StructField("member_level", T.StringType()),
        ]
    )
    got = feature_columns(schema, FeatureSelection(exclude=("frequency_30d",), categorical=("member_level",)))
    assert (got.numeric, got.categorical) == (("recency_days", "monetary_365d"), ("member_level",))
    with pytest.raises(InputError, match=r"feature columns \['nope'\] are not in the feature snapshot"):
        feature_columns(schema, FeatureSelection(exclude=("nope",)))
    # A prefix leaves out every column it starts (here none), and matching nothing is no error.
    got = feature_columns(schema, FeatureSelection(exclude=("m*", "social_*")))
    assert got.numeric == ("recency_days", "frequency_30d")
    with pytest.raises(InputError, match="non-numeric columns"):
        feature_columns(schema, FeatureSelection(include=("recency_days", "rfm_segment")))


def test_training_set_reads_only_matured_snapshots_and_labels_in_the_window(spark, empty_silver):
    users = [f"u{i}" for i in range(8)]
    # x identifies the snapshot a feature row came from; MAR (D + 30 = Mar 31) is after the cut-off.
    feature_rows = [(u, d, float(100 * k + i)) for k, d in enumerate((JAN, FEB, MAR), 1) for i, u in enumerate(users)]
    features = spark.createDataFrame(feature_rows, "user_id string, as_of_date date, x double")
    bought = {("u1", JAN), ("u2", FEB), ("u3", JAN), ("u3", FEB)}
    base = [("u1", "2026-01-20", 5, False), ("u2", "2026-03-03", 5, False), ("u3", "2026-01-31", 5, False),
            ("u3", "2026-02-02", 5, False), ("u4", "2026-02-01", 5, False)]  # fmt: skip
    # After FEB + 30 (Mar 3) and after the cut-off: they must change nothing.
    late = [("u5", "2026-03-03 00:00:01", 5, False), ("u6", "2026-03-20", 5, False), ("u0", "2026-04-02", 5, False)]
    cutoff = dt.datetime(2026, 3, 5)
    # Default split: calibration_fraction 0.25, seed 13 (u2 is the held-out user); the frame has only x,
    # so no exclusions (the base excludes name snapshot columns such as interest_1_lift).
    target = replace(REPURCHASE, features=FeatureSelection())

    def expected_rows():
        out = []
        for u, d, x in feature_rows:
            if d == MAR:
                continue
            held = _md5_uniform(f"calibration-13|{u}") < 0.25
            part = "validation" if d == FEB else ("calibration" if held else "train")
            out.append((u, d, int((u, d) in bought), part, x))
        return out

    for silver_orders in (base, base + late):
        silver = {**empty_silver, "orders": orders(spark, silver_orders)}
        data = training_set(features, silver, target, cutoff, [JAN, FEB, MAR])
        got = data.rows.select("user_id", "as_of_date", "label", "split", "x")
        assertDataFrameEqual(
            got,
            spark.createDataFrame(
                expected_rows(), "user_id string, as_of_date date, label int, split string, x double"
            ),
        )
        assert (data.snapshots.train, data.snapshots.validation, data.snapshots.unmatured) == ((JAN,), FEB, (MAR,))
        assert data.features.numeric == ("x",)
        data.rows.unpersist()
