"""Drift on a small generated user base: a promotion month that triples activity fires the feature-drift
alert between the snapshot before and the snapshot after it; the same base without the promotion is silent.

The shift uses the generator's existing seasonality knob (generate.month_weights): October's weight 1.0 ->
3.0 triples the expected orders (and visits) of every active user in October. (A doubling gave PSI 0.13 to
0.18 here: order counts are heavy-tailed and ~30% of users sit at zero, so decile-binned PSI stays in the
0.1-0.2 "watch" band; docs/monitoring.md discusses this.) Features are the order count
and spend in the 30 days before D (non-refunded orders) of one cohort of users; the monitor's PSI
(previous-snapshot quantile bins) and alert rules do the rest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from tests.conftest import make_config
from userscore.generate import generate_user_base
from userscore.generate.timeline import epoch_seconds
from userscore.monitoring.alerts import evaluate_rules
from userscore.monitoring.drift import feature_drift

BEFORE, AFTER = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
FLAT = (0.9, 0.8, 0.95, 0.95, 1.0, 1.05, 0.95, 0.95, 1.0, 1.0, 1.55, 1.35)  # the default: Sep = Oct = 1.0
PROMOTION = (*FLAT[:9], 3.0, *FLAT[10:])  # October tripled
FEATURES = ["orders_30d", "spend_30d"]


def _snapshots(spark, generate):
    """orders_30d and spend_30d at BEFORE and AFTER of the users registered before BEFORE (one cohort, so the
    comparison is not diluted by October's new users, whose partial windows look alike in both runs)."""
    base = generate_user_base(spark, generate)
    users, orders = base.shared
    frames = []
    cohort = epoch_seconds(BEFORE)
    for d in (BEFORE, AFTER):
        end = epoch_seconds(d)
        start = end - 30 * 86_400
        window = (
            orders.where((F.col("ts") >= start) & (F.col("ts") < end) & ~F.col("is_refunded"))
            .groupBy("user_id")
            .agg(F.count(F.lit(1)).cast("double").alias("orders_30d"), F.sum("amount").alias("spend_30d"))
        )
        population = users.where(F.col("reg") < cohort).select("user_id")
        frames.append(
            population.join(window, "user_id", "left").fillna(0.0, FEATURES).withColumn("as_of_date", F.lit(d))
        )
    rows = frames[0].unionByName(frames[1]).collect()  # a few hundred rows: keeps the two generations apart
    return spark.createDataFrame(rows, frames[0].schema)


@pytest.fixture(scope="module")
def monitor_config(tmp_path_factory):
    rule = {"metric": "feature_psi", "baseline": "previous", "above": 0.2, "severity": "warning"}
    overrides = {
        # No past campaigns: the base's are sent up to 240 days before end_date, before this 120-day history.
        "generate": {
            "users": 400,
            "history_days": 120,
            "end_date": "2026-11-01",
            "bad_record_share": 0.0,
            "campaigns": None,
        },
        "monitor": {"alerts": {"feature_drift_previous": rule}},
    }
    return make_config(tmp_path_factory.mktemp("shift"), overrides)


@pytest.mark.parametrize("weights,fires", [(FLAT, False), (PROMOTION, True)], ids=["no shift", "promotion"])
def test_feature_drift_alert_fires_only_when_behaviour_shifts(spark, monitor_config, weights, fires):
    generate = dataclasses.replace(monitor_config.generate, month_weights=weights)
    features = _snapshots(spark, generate)
    drift = feature_drift(features, AFTER, BEFORE, FEATURES, [], {}, monitor_config.monitor.psi)
    alerts = evaluate_rules(AFTER, monitor_config.monitor.alerts, [], drift, [])
    psi = {r["name"]: r["psi"] for r in drift}
    if fires:
        assert {a["subject"] for a in alerts if a["rule"] == "feature_drift_previous"} == set(FEATURES), psi
        assert min(psi.values()) > 0.2
    else:
        assert [a for a in alerts if a["rule"] == "feature_drift_previous"] == [], psi
        assert max(psi.values()) < 0.1
