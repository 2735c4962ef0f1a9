"""Realised accuracy (AUC, predicted vs observed per decile and tier) on a hand-computed example."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from tests.base_config import target_config
from tests.monitoring.world import FEB, JAN, MAR, USERS, P, order_rows, repurchase_tier
from userscore.config.models import LabelRule
from userscore.monitoring.accuracy import matured_snapshots, realised_accuracy

REPURCHASE = target_config(horizon_days=30, label=LabelRule(kind="any_order_within", include_refunded=False))


def test_only_snapshots_whose_horizon_ended_by_the_cutoff_are_matured():
    cutoff = dt.datetime(2026, 3, 1)
    # JAN + 30 = Jan 31 <= Mar 1; FEB + 30 = Mar 3 > Mar 1; MAR is not before D
    assert matured_snapshots([JAN, FEB, MAR], MAR, 30, cutoff, limit=6) == [JAN]
    assert matured_snapshots([JAN, FEB, MAR], MAR, 20, cutoff, limit=6) == [JAN, FEB]
    assert matured_snapshots([JAN, FEB, MAR], MAR, 20, cutoff, limit=1) == [FEB]
    assert matured_snapshots([JAN, FEB, MAR], MAR, 20, dt.datetime(2026, 2, 15), limit=6) == [JAN]


def test_auc_deciles_and_tier_hit_rates_by_hand(spark):
    scored = spark.createDataFrame(
        [(u, JAN, P[u], repurchase_tier(P[u]), "7") for u in USERS],
        "user_id string, as_of_date date, _p double, _tier string, _version string",
    )
    rows = realised_accuracy(scored, REPURCHASE, {"orders": order_rows(spark)}, [JAN], ["high", "mid", "low"], 0.0)
    by = {(r["level"], r["bucket"]): r for r in rows}
    assert {(r["snapshot_date"], r["model_version"]) for r in rows} == {(JAN, "7")}

    overall = by[("overall", "all")]
    assert (overall["rows"], overall["positives"]) == (20, 6)
    # positives 5, 12, 16, 18, 19, 20 beat 4 + 10 + 13 + 14 + 14 + 14 = 69 of the 6 x 14 pairs
    assert overall["auc"] == pytest.approx(69 / 84)
    assert overall["mean_predicted"] == pytest.approx(10.5 / 20)

    # decile k holds users 21-2k and 22-2k; buyers per decile: 1: 19, 20; 2: 18; 3: 16; 5: 12; 8: 5
    positives = {1: 2, 2: 1, 3: 1, 4: 0, 5: 1, 6: 0, 7: 0, 8: 1, 9: 0, 10: 0}
    for k in range(1, 11):
        row = by[("decile", str(k))]
        hi = 22 - 2 * k
        assert (row["rows"], row["positives"]) == (2, positives[k]), k
        assert row["mean_predicted"] == pytest.approx((0.05 * hi + 0.05 * (hi - 1)) / 2), k
        assert row["observed_rate"] == pytest.approx(positives[k] / 2), k
        assert row["lift"] == pytest.approx((positives[k] / 2) / 0.3), k

    # tiers: high = users 13..20 (buyers 16, 18, 19, 20), mid = 5..12 (buyers 5, 12), low = 1..4
    assert [(by[("tier", t)]["rows"], by[("tier", t)]["positives"]) for t in ("high", "mid", "low")] == [
        (8, 4),
        (8, 2),
        (4, 0),
    ]
    assert by[("tier", "high")]["observed_rate"] == pytest.approx(0.5)
    assert by[("tier", "mid")]["mean_predicted"] == pytest.approx(sum(0.05 * i for i in range(5, 13)) / 8)


@pytest.mark.parametrize(("refunded_at", "positives", "high_tier"), [("2026-01-20", 6, 4), ("2026-02-10", 7, 5)])
def test_a_refund_recorded_after_the_window_leaves_the_outcome_a_purchase(spark, refunded_at, positives, high_tier):
    # u17's order of Jan 12 is refunded; JAN's window ends Jan 31. Recorded on Jan 20 it is no purchase; recorded on
    # Feb 10 it was still a purchase when the outcome matured, so u17 (tier high) is a positive.
    scored = spark.createDataFrame(
        [(u, JAN, P[u], repurchase_tier(P[u]), "7") for u in USERS],
        "user_id string, as_of_date date, _p double, _tier string, _version string",
    )
    at = F.when(F.col("is_refunded"), F.lit(dt.datetime.fromisoformat(refunded_at)))
    orders = order_rows(spark).withColumn("refunded_at", at)
    rows = realised_accuracy(scored, REPURCHASE, {"orders": orders}, [JAN], ["high", "mid", "low"], 0.0)
    by = {(r["level"], r["bucket"]): r for r in rows}
    assert (by[("overall", "all")]["positives"], by[("tier", "high")]["positives"]) == (positives, high_tier)
