"""A snapshot compared, family by family, with the same features computed in plain Python."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.features.conftest import compute, spec_config
from tests.features.reference import reference
from tests.features.silver import D, after_d, scenario
from userscore.config.columns import profile_columns
from userscore.features import feature_columns, rfm_core

FAMILIES = {
    "profile": lambda cols: cols[: cols.index("recency_days")],
    "rfm": lambda cols: cols[cols.index("recency_days") : cols.index("orders_placed")],
    "transaction": lambda cols: cols[cols.index("orders_placed") : cols.index("logins_30d")],
    "behaviour": lambda cols: cols[cols.index("logins_30d") : cols.index("top_category")],
    "preference": lambda cols: cols[cols.index("top_category") : cols.index("interest_1")],
    "interests": lambda cols: cols[cols.index("interest_1") : cols.index("coupons_claimed_30d")],
    "interaction": lambda cols: cols[cols.index("coupons_claimed_30d") : cols.index("bgnbd_x")],
    "customer_base": lambda cols: cols[cols.index("bgnbd_x") :],
}


def _expected(spark, actual, rows):
    """The reference rows as a DataFrame of ``actual``'s schema (plain-Python sums of ints become doubles)."""
    doubles = {f.name for f in actual.schema.fields if isinstance(f.dataType, T.DoubleType)}
    typed = [
        Row(**{c: float(r[c]) if c in doubles and r[c] is not None else r[c] for c in actual.columns}) for r in rows
    ]
    return spark.createDataFrame(typed, actual.schema)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_matches_plain_python(spark, features_config, scenario_snapshot, family):
    features, _ = scenario_snapshot
    columns = ["user_id", *FAMILIES[family](feature_columns(features_config.features))]
    actual = features.select(*columns)
    expected = _expected(spark, actual, reference(scenario(), D))
    assertDataFrameEqual(actual, expected, rtol=1e-9)


def test_snapshot_rows_are_users_registered_before_d_with_hand_checked_values(scenario_snapshot):
    features, _ = scenario_snapshot
    rows = {r.user_id: r for r in features.collect()}
    # u5 registered exactly at D and u6 after it are not in the snapshot.
    assert sorted(rows) == ["u1", "u2", "u3", "u4", "u7", "u8", "u9"]
    u1, u2, u3, u4, u7 = (rows[u] for u in ("u1", "u2", "u3", "u4", "u7"))
    # u1: kept orders o1 (D-1), o2 (D-19), o3 (D-71), o5 (>1y); o4 is refunded.
    assert (u1.recency_days, u1.frequency_30d, u1.frequency_90d, u1.frequency_365d) == (1, 2, 3, 3)
    assert (u1.monetary_30d, u1.monetary_365d, u1.order_count, u1.orders_placed, u1.refund_rate) == (
        150.0,
        180.0,
        4,
        5,
        0.2,
    )
    assert u1.member_level == "gold"  # last change before D; the change after D is ignored
    # u2: a refunded order and a zero-amount order: one order with 0 spend, half the orders refunded.
    assert (u2.order_count, u2.monetary_365d, u2.refund_rate, u2.recency_days, u2.region) == (
        1,
        0.0,
        0.5,
        28,
        "unknown",
    )
    assert u2.member_level == "basic"  # from_level of its first change, which is after D
    # u3: events only -> documented defaults for orders, R = F = M = 1; the login at D is excluded.
    assert (u3.recency_days, u3.tenure_days, u3.logins_365d, u3.r_score, u3.f_score, u3.m_score) == (77, 76, 1, 1, 1, 1)
    assert (u3.top_category, u3.top_category_visit_share, u3.preferred_channel) == ("beauty", 1.0, "none")
    # u4: nothing at all.
    assert (u4.tenure_days, u4.recency_days, u4.days_since_last_activity, u4.logins_trend) == (1, 2, 2, 1.0)
    assert (u4.rfm_segment, u4.top_category, u4.avg_order_value) == ("Lost", "none", 0.0)
    # u7: the 999.0 order exactly at D is excluded; its level change exactly at D is "at or after D".
    assert (u7.monetary_365d, u7.recency_days, u7.member_level) == (25.0, 1, "silver")


def test_rfm_scores_with_ties_and_boundaries(scenario_snapshot):
    features, boundaries = scenario_snapshot
    scores = {r.user_id: (r.r_score, r.f_score, r.m_score, r.rfm_segment) for r in features.collect()}
    # Worked by hand: R over buyers' recency [1, 1, 28, 59, 142] -> bounds 1, 28, 59 -> scores 5, 4, 2, 1;
    # F over frequency_365d [1, 1, 2, 2, 3] -> bounds 1, 2 -> 1, 3, 5 (equal values, equal scores);
    # M over monetary_365d [0, 20, 25, 25, 180] -> bounds 0, 20, 25 -> 1, 2, 4, 5.
    assert scores == {
        "u1": (5, 5, 5, "Champions"),
        "u2": (4, 1, 1, "Promising"),
        "u3": (1, 1, 1, "Lost"),
        "u4": (1, 1, 1, "Lost"),
        "u7": (5, 1, 4, "Loyal"),  # FM = round-half-up((1 + 4) / 2) = 3
        "u8": (2, 3, 2, "At risk"),  # FM 3
        "u9": (1, 3, 4, "Can't lose them"),  # FM 4
    }
    got = sorted((r.feature, r.bin, r.score, r.lower_bound, r.upper_bound, r.population) for r in boundaries.collect())
    assert got == sorted(
        [
            ("recency_days", 1, 5, None, 1.0, 5),
            ("recency_days", 2, 4, 1.0, 28.0, 5),
            ("recency_days", 3, 2, 28.0, 59.0, 5),
            ("recency_days", 4, 1, 59.0, None, 5),
            ("frequency_365d", 1, 1, None, 1.0, 5),
            ("frequency_365d", 2, 3, 1.0, 2.0, 5),
            ("frequency_365d", 3, 5, 2.0, None, 5),
            ("monetary_365d", 1, 1, None, 0.0, 5),
            ("monetary_365d", 2, 2, 0.0, 20.0, 5),
            ("monetary_365d", 3, 4, 20.0, 25.0, 5),
            ("monetary_365d", 4, 5, 25.0, None, 5),
        ]
    )
    assert {r.as_of_date for r in boundaries.collect()} == {D}


def test_point_in_time_rows_at_or_after_d_change_nothing(spark, features_config, scenario_snapshot):
    features, boundaries = scenario_snapshot
    later_features, later_boundaries = compute(spark, features_config, scenario().plus(after_d()))
    assertDataFrameEqual(later_features, features)
    assertDataFrameEqual(later_boundaries, boundaries)


def test_a_refund_counts_only_from_the_snapshot_after_it_was_recorded(spark, features_config, scenario_snapshot):
    # o10 (u8, 10.0) refunded exactly at D and o12 (u9, 20.0) refunded on 2026-03-10: at D neither is
    # refunded; at 2026-04-01 both are.
    at_d = {r.user_id: r for r in scenario_snapshot[0].where("user_id IN ('u8', 'u9')").collect()}
    later, _ = compute(spark, features_config, scenario(), dt.date(2026, 4, 1))
    after = {r.user_id: r for r in later.where("user_id IN ('u8', 'u9')").collect()}

    def refunds(row):
        return row.orders_placed, row.order_count, row.refunded_orders, row.refund_rate, row.total_order_value

    assert (refunds(at_d["u8"]), refunds(at_d["u9"])) == ((2, 2, 0, 0.0, 20.0), (2, 2, 0, 0.0, 25.0))
    assert (refunds(after["u8"]), refunds(after["u9"])) == ((2, 1, 1, 0.5, 10.0), (2, 1, 1, 0.5, 5.0))
    # u8's last kept order is now o11 (2025-11-11): 141 days before 2026-04-01.
    assert (at_d["u8"].recency_days, after["u8"].recency_days) == (59, 141)
    expected = _expected(spark, later, reference(scenario(), dt.date(2026, 4, 1)))
    assertDataFrameEqual(later.select(*expected.columns), expected, rtol=1e-9)


def test_adding_a_window_in_config_adds_its_columns(spark, tmp_path):
    config = spec_config(tmp_path, {"features": {"windows": [7, 30, 90, 365]}})
    features, _ = compute(spark, config, scenario())
    new = [c for c in features.columns if c.endswith("_7d")]
    assert new[:2] == ["frequency_7d", "monetary_7d"] and "active_days_7d" in new and "logins_7d" in new
    actual = features.select("user_id", *new)
    expected = _expected(spark, actual, reference(scenario(), D, windows=(7, 30, 90, 365)))
    assertDataFrameEqual(actual, expected, rtol=1e-9)
    u1 = actual.where("user_id = 'u1'").first()
    assert (u1.frequency_7d, u1.monetary_7d, u1.active_days_7d) == (1, 100.0, 3)  # events on Feb 25, 26, 27


def test_rfm_core_alone_matches_plain_python(spark, features_config):
    # The benchmark's Spark side: only users with an order before D (u7's order at D is excluded, u2's kept
    # order is the zero-amount one), recency from the last kept order, F and M per window.
    silver, config = scenario(), features_config.features
    actual = rfm_core(silver.frame(spark, features_config, "orders"), D, config)
    core = ["recency_days", *[f"{m}_{n}d" for m in ("frequency", "monetary") for n in config.windows]]
    assert actual.columns == ["user_id", *core]
    buyers = {"u1", "u2", "u7", "u8", "u9"}
    rows = [{c: r[c] for c in ["user_id", *core]} for r in reference(silver, D) if r["user_id"] in buyers]
    assertDataFrameEqual(actual, _expected(spark, actual, rows), rtol=1e-9)


def test_profile_columns_follow_config(features_config):
    assert profile_columns(features_config.features.profile) == [
        "member_level",
        "region",
        "registration_channel",
        "age_band",
        "tenure_days",
    ]


def test_each_source_is_scanned_once_and_shuffled_once(spark, features_config):
    from userscore.features.snapshot import unscored_features

    sources = scenario().sources(spark, features_config)
    plan = unscored_features(sources, D, features_config.features)._jdf.queryExecution().executedPlan().toString()
    scans = [line for line in plan.splitlines() if "Scan ExistingRDD" in line]
    # users, orders, events, level_changes: one scan each (a second scan would repeat an RDD).
    assert len(scans) == 4
    exchanges = [line.strip().split(" ")[-1] for line in plan.splitlines() if "Exchange hashpartitioning" in line]
    # One shuffle by user_id per source: orders and events (their aggregation, whose partitioning the joins
    # reuse), users and level_changes (for the joins).
    assert len(exchanges) == 4 and "Window" not in plan
