"""Label rules on hand-made silver rows: populations, outcomes, and the (D, D + h] boundary."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.base_config import target_config
from tests.conftest import make_config
from tests.models.conftest import CHURN, REPURCHASE, VIP, events, keys, level_changes, orders
from userscore.config.models import LabelRule, PopulationRule
from userscore.errors import ConfigError
from userscore.models.targets import labels
from userscore.persons import PersonMaps

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 4, 1)  # D1 + 30 = 2026-03-31, D2 + 30 = 2026-05-01


def _repurchase_orders(spark, extra=()):
    return orders(
        spark,
        [
            ("u1", "2026-03-01 00:00:00", 10, False),  # exactly D1: not in D1's window, before D2
            ("u1", "2026-03-31 00:00:00", 10, False),  # exactly D1 + 30: in D1's window
            ("u2", "2026-03-15 00:00:00", 10, True),  # refunded: does not count
            ("u2", "2026-04-20 00:00:00", 10, False),
            ("u3", "2026-05-01 00:00:00", 10, False),  # exactly D2 + 30
            ("u4", "2026-05-01 00:00:01", 10, False),  # one second past D2 + 30
            *extra,
        ],
    )


REPURCHASE_EXPECTED = [
    ("u1", D1, 1), ("u1", D2, 0), ("u2", D1, 0), ("u2", D2, 1), ("u3", D1, 0),
    ("u3", D2, 1), ("u4", D1, 0), ("u4", D2, 0), ("u5", D1, 0), ("u5", D2, 0),
]  # fmt: skip


def test_repurchase_counts_non_refunded_orders_in_d_to_d_plus_h(spark, empty_silver):
    silver = {**empty_silver, "orders": _repurchase_orders(spark)}
    got = labels(keys(spark, ["u1", "u2", "u3", "u4", "u5"], [D1, D2]), REPURCHASE, silver, [D1, D2])
    assertDataFrameEqual(got, spark.createDataFrame(REPURCHASE_EXPECTED, "user_id string, as_of_date date, label int"))


def test_rows_after_the_horizon_and_other_snapshots_do_not_change_labels(spark, empty_silver):
    # Orders after every D + h, for every user, and keys of an unmatured snapshot that is not labelled.
    late = [(u, "2026-05-02 00:00:00", 99, False) for u in ("u1", "u2", "u3", "u4", "u5")]
    silver = {**empty_silver, "orders": _repurchase_orders(spark, late)}
    all_keys = keys(spark, ["u1", "u2", "u3", "u4", "u5"], [D1, D2, dt.date(2026, 5, 1)])
    got = labels(all_keys.where("as_of_date < DATE'2026-05-01'"), REPURCHASE, silver, [D1, D2])
    assertDataFrameEqual(got, spark.createDataFrame(REPURCHASE_EXPECTED, "user_id string, as_of_date date, label int"))


def test_churn_population_is_active_in_the_90_days_before_d(spark, empty_silver):
    # D1 - 90 days = 2025-12-01; D1 + 60 days = 2026-04-30.
    silver = {
        "orders": orders(
            spark,
            [
                ("c2", "2025-11-30 23:59:59", 10, False),  # just before the look-back: not eligible
                ("c4", "2026-02-01 00:00:00", 10, False),
                ("c5", "2026-03-20 00:00:00", 10, True),  # refunded, but still activity
                ("c6", "2026-05-01 00:00:00", 10, False),  # after D1 + 60 (c6 active via event below)
            ],
        ),
        "events": events(
            spark,
            [
                ("c1", "2025-12-01 00:00:00", "login"),  # exactly D - 90: eligible
                ("c3", "2026-02-10 00:00:00", "page_view"),
                ("c3", "2026-03-01 00:00:00", "login"),  # exactly D: neither look-back nor outcome
                ("c4", "2026-04-30 00:00:00", "login"),  # exactly D + 60: active
                ("c5", "2026-01-10 00:00:00", "click"),
                ("c6", "2026-02-27 00:00:00", "search"),
            ],
        ),
        "level_changes": empty_silver["level_changes"],
    }
    got = labels(keys(spark, ["c1", "c2", "c3", "c4", "c5", "c6", "c7"], [D1]), CHURN, silver, [D1])
    expected = [("c1", D1, 1), ("c3", D1, 1), ("c4", D1, 0), ("c5", D1, 0), ("c6", D1, 1)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))


def test_vip_promotion_by_level_rise_or_spend_crossing(spark, empty_silver):
    # Threshold 1000; D1 + 90 days = 2026-05-30.
    silver = {
        "orders": orders(
            spark,
            [
                ("v3", "2026-01-05 00:00:00", 900, False),
                ("v3", "2026-01-06 00:00:00", 500, True),  # refunded: not spend
                ("v3", "2026-05-30 00:00:00", 100, False),  # exactly D + 90: 900 + 100 reaches 1000
                ("v4", "2025-10-01 00:00:00", 1200, False),  # already over the threshold: not eligible
                ("v5", "2026-02-01 00:00:00", 500, False),
                ("v5", "2026-04-01 00:00:00", 600, True),  # refunded: not spend
                ("v8", "2026-05-30 00:00:01", 5000, False),  # after D + 90
            ],
        ),
        "events": empty_silver["events"],
        "level_changes": level_changes(
            spark,
            [
                ("v1", "2026-01-01 00:00:00", "basic", "silver"),
                ("v1", "2026-04-01 00:00:00", "silver", "gold"),  # a rise in the window
                ("v2", "2026-01-01 00:00:00", "gold", "platinum"),  # top level at D: not eligible
                ("v5", "2026-04-01 00:00:00", "gold", "silver"),  # a drop is not a rise
                ("v6", "2025-06-01 00:00:00", None, "basic"),
                ("v6", "2026-03-15 00:00:00", None, "silver"),  # from unknown: above the level at D
                ("v7", "2026-03-01 00:00:00", "basic", "gold"),  # exactly D: neither before nor after
                ("v7", "2026-05-30 00:00:01", "gold", "platinum"),  # after D + 90
            ],
        ),
    }
    got = labels(keys(spark, [f"v{i}" for i in range(1, 9)], [D1]), VIP, silver, [D1])
    expected = [("v1", D1, 1), ("v3", D1, 1), ("v5", D1, 0), ("v6", D1, 1), ("v7", D1, 0), ("v8", D1, 0)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))


def test_target_inputs_follow_the_rule_kinds():
    assert REPURCHASE.inputs() == ["orders"]
    assert CHURN.inputs() == ["events", "orders"]
    assert VIP.inputs() == ["level_changes", "orders"]


def test_an_order_counts_as_refunded_only_once_its_refund_is_recorded_by_the_window_end(spark, empty_silver):
    # Repurchase windows: D1 -> (03-01, 03-31], D2 -> (04-01, 05-01].
    silver = {
        **empty_silver,
        "orders": orders(
            spark,
            [
                ("r1", "2026-03-10 00:00:00", 10, True, "2026-04-15 00:00:00"),  # refund after D1 + 30: a purchase
                ("r2", "2026-03-10 00:00:00", 10, True, "2026-03-20 00:00:00"),  # refund inside the window
                ("r3", "2026-03-10 00:00:00", 10, True, "2026-03-31 00:00:00"),  # refund exactly at D1 + 30
            ],
        ),
    }
    got = labels(keys(spark, ["r1", "r2", "r3"], [D1, D2]), REPURCHASE, silver, [D1, D2])
    expected = [("r1", D1, 1), ("r1", D2, 0), ("r2", D1, 0), ("r2", D2, 0), ("r3", D1, 0), ("r3", D2, 0)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))


def test_vip_spend_counts_refunds_as_of_each_snapshot_and_window_end(spark, empty_silver):
    # Threshold 1000; windows D1 -> (03-01, 05-30], D2 -> (04-01, 06-30].
    silver = {
        **empty_silver,
        "orders": orders(
            spark,
            [
                # w1: 1200 before D1, refunded between D1 and D2: over the threshold at D1 (not eligible), 0 at D2.
                ("w1", "2026-01-05 00:00:00", 1200, True, "2026-03-15 00:00:00"),
                # w2: refunded before D1: eligible at both, no spend.
                ("w2", "2026-01-05 00:00:00", 1200, True, "2026-02-01 00:00:00"),
                # w3: 900 before D1, then 200 on 04-10 refunded on 06-15: after D1's window end (900 + 200 crosses
                # at D1), before D2's (only 900 at D2).
                ("w3", "2026-01-05 00:00:00", 900, False),
                ("w3", "2026-04-10 00:00:00", 200, True, "2026-06-15 00:00:00"),
            ],
        ),
    }
    got = labels(keys(spark, ["w1", "w2", "w3"], [D1, D2]), VIP, silver, [D1, D2])
    expected = [("w1", D2, 0), ("w2", D1, 0), ("w2", D2, 0), ("w3", D1, 1), ("w3", D2, 0)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))


def test_where_filters_the_orders_of_population_and_label_rules(spark, empty_silver):
    # Active in books in [D1 - 30, D1); buys a book in (D1, D1 + 14] = (2026-03-01, 2026-03-15].
    books = target_config(
        horizon_days=14,
        population=PopulationRule(
            kind="active_within", lookback_days=30, include_refunded=False, where={"category": ("books",)}
        ),
        label=LabelRule(kind="any_order_within", include_refunded=False, where={"category": ("books",)}),
    )
    rows = [
        ("b1", "2026-02-15 00:00:00", "books"), ("b1", "2026-03-10 00:00:00", "books"),
        ("b2", "2026-02-15 00:00:00", "books"), ("b2", "2026-03-10 00:00:00", "toys"),  # another category
        ("b3", "2026-02-15 00:00:00", "toys"), ("b3", "2026-03-10 00:00:00", "books"),  # not eligible
        ("b4", "2026-02-15 00:00:00", "books"), ("b4", "2026-03-15 00:00:01", "books"),  # past D1 + 14
        ("b5", "2026-02-15 00:00:00", "books"), ("b5", "2026-03-15 00:00:00", "books"),  # exactly D1 + 14
    ]  # fmt: skip
    categories = F.create_map(*[F.lit(x) for u, t, c in rows for x in (f"{u} {t}", c)])
    frame = orders(spark, [(u, t, 10, False) for u, t, _ in rows])
    key = F.concat_ws(" ", "user_id", F.date_format("order_ts", "yyyy-MM-dd HH:mm:ss"))
    silver = {**empty_silver, "orders": frame.withColumn("category", categories[key])}
    got = labels(keys(spark, ["b1", "b2", "b3", "b4", "b5"], [D1]), books, silver, [D1])
    expected = [("b1", D1, 1), ("b2", D1, 0), ("b4", D1, 0), ("b5", D1, 1)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))


TIERS = [{"name": "high", "min": 0.5}, {"name": "low"}]


@pytest.mark.parametrize(
    ("rule", "key", "message"),
    [
        ({"kind": "all", "where": {"category": ["books"]}}, "population.where", "reads no orders"),
        (
            {"kind": "active_within", "lookback_days": 30, "include_refunded": False, "where": {"category": []}},
            "population.where",
            "at least",
        ),
        (
            {"kind": "active_within", "lookback_days": 30, "include_refunded": False, "where": {"genre": ["x"]}},
            "population.where.genre",
            "genre",
        ),
    ],
)
def test_bad_rule_filters_fail_at_load(tmp_path, rule, key, message):
    label = {"kind": "any_order_within", "include_refunded": False}
    target = {"horizon_days": 14, "label": label, "population": rule, "tiers": TIERS}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"models": {"targets": {"books_14d": target}}})
    assert caught.value.key_path == f"models.targets.books_14d.{key}"
    assert message in str(caught.value)


def test_keyed_by_person_each_snapshot_follows_the_person_map_in_force_at_its_date(spark, empty_silver):
    # Runs: at D1 - 1, u1 and u2 are two persons (p1, p2); at D2 - 1 the run joins them into p1. u3 is in no
    # run (registered since): its own key. Repurchase windows: D1 -> (03-01, 03-31], D2 -> (04-01, 05-01].
    runs = spark.createDataFrame(
        [
            (D1 - dt.timedelta(days=1), "u1", "p1"), (D1 - dt.timedelta(days=1), "u2", "p2"),
            (D2 - dt.timedelta(days=1), "u1", "p1"), (D2 - dt.timedelta(days=1), "u2", "p1"),
        ],
        "as_of_date date, user_id string, person_id string",
    )  # fmt: skip
    persons = PersonMaps(runs, {D1: D1 - dt.timedelta(days=1), D2: D2 - dt.timedelta(days=1)})
    silver = {
        **empty_silver,
        "orders": orders(
            spark,
            [
                ("u2", "2026-03-10 00:00:00", 10, False),  # D1: p2's purchase (not p1's: apart at D1)
                ("u2", "2026-04-10 00:00:00", 10, False),  # D2: p1's purchase, through its member u2
                ("u3", "2026-04-11 00:00:00", 10, False),
            ],
        ),
    }
    person_keys = spark.createDataFrame(
        [("p1", D1), ("p2", D1), ("u3", D1), ("p1", D2), ("u3", D2)], "user_id string, as_of_date date"
    )
    got = labels(person_keys, REPURCHASE, silver, [D1, D2], persons)
    expected = [("p1", D1, 0), ("p2", D1, 1), ("u3", D1, 0), ("p1", D2, 1), ("u3", D2, 1)]
    assertDataFrameEqual(got, spark.createDataFrame(expected, "user_id string, as_of_date date, label int"))
