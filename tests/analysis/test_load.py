"""The analysis inputs of snapshot D: point in time, the bot cap, and the preconditions (tests/analysis/
analyze_world.py has the rows and the expected cut worked out by hand)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from tests.analysis.analyze_world import PREVIOUS, SETTINGS, D, write_silver, write_snapshot
from tests.conftest import make_config
from userscore.analysis.load import GROUP_LIMIT_THRESHOLD, cap_events, load_inputs, point_in_time_level
from userscore.catalog import Catalog
from userscore.errors import InputError


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("analysis-load"), SETTINGS)
    catalog = Catalog(spark, config)
    write_silver(spark, catalog)
    write_snapshot(spark, catalog, D)
    return catalog


def test_events_are_the_look_back_before_d_with_bots_cut_to_their_latest_events(world):
    inputs = load_inputs(world, world.config, D)
    assert inputs.as_of == D
    assert sorted(r["event_id"] for r in inputs.events.collect()) == ["b3", "b4", "b5", "h1", "h2"]
    assert [tuple(r) for r in inputs.capped_users.collect()] == [("bot", 5, 3)]
    assert inputs.capped_users.columns == ["user_id", "events_in_window", "events_kept"]


def test_orders_users_and_snapshot_partitions_are_as_of_d(world):
    inputs = load_inputs(world, world.config, D)
    # o2's refund was recorded at D: not known before D.
    assert sorted((r["order_id"], r["is_refunded"]) for r in inputs.orders.collect()) == [("o1", True), ("o2", False)]
    assert sorted(r["user_id"] for r in inputs.users.collect()) == ["bot", "human"]
    assert sorted((r["user_id"], r["grade"]) for r in inputs.scores.collect()) == [("bot", "D"), ("human", "A")]
    assert {r["as_of_date"] for r in inputs.features.collect()} == {D}
    assert [(r["user_id"], r["segment"]) for r in inputs.segments.collect()] == [("human", "vip")]


def test_a_larger_cap_keeps_every_event_and_caps_nobody(world):
    config = make_config(world.config.path(world.config.catalog.root).parent, {"analysis": {"lookback_days": 10,
                         "max_events_per_user": 5}})  # fmt: skip
    inputs = load_inputs(Catalog(world.spark, config), config, D)
    assert sorted(r["event_id"] for r in inputs.events.collect()) == ["b1", "b2", "b3", "b4", "b5", "h1", "h2"]
    assert inputs.capped_users.collect() == []


def test_a_snapshot_without_scores_fails_naming_the_snapshots_there_are(world):
    with pytest.raises(InputError) as error:
        load_inputs(world, world.config, PREVIOUS)
    assert str(error.value) == (
        "scores.user_scores has no partition as_of_date=2026-01-01 (snapshots: ['2026-03-01']): "
        "run `userscore score --as-of 2026-01-01` first"
    )


def test_a_missing_input_table_fails_naming_the_setting(world, spark, tmp_path):
    config = make_config(tmp_path, SETTINGS)
    catalog = Catalog(spark, config)
    write_snapshot(spark, catalog, D)
    with pytest.raises(InputError) as error:
        load_inputs(catalog, config, D)
    assert str(error.value) == (
        f"silver.events (analysis.inputs.events) does not exist at {tmp_path}/warehouse/silver/events: "
        "run the job that writes it first"
    )


def test_users_carry_the_member_level_held_at_d_not_the_latest(world):
    # silver.users says human is platinum (an upgrade after D); the features partition D says silver.
    inputs = load_inputs(world, world.config, D)
    assert sorted((r["user_id"], r["member_level"]) for r in inputs.users.collect()) == [
        ("bot", "gold"),
        ("human", "silver"),
    ]
    assert inputs.users.columns == world.read("silver.users").columns


def test_the_features_unknown_level_and_a_user_without_features_have_no_level(spark, world):
    unknown = world.config.features.profile.unknown_value
    users = spark.createDataFrame(
        [("a", "platinum", "north"), ("b", "gold", "south"), ("c", "basic", "east")],
        "user_id string, member_level string, region string",
    )
    features = spark.createDataFrame([("a", "silver"), ("b", unknown)], "user_id string, member_level string")
    got = point_in_time_level(users, features, world.config)
    assert got.columns == ["user_id", "member_level", "region"]
    assert sorted(tuple(r) for r in got.collect()) == [
        ("a", "silver", "north"),
        ("b", None, "south"),
        ("c", None, "east"),
    ]


def test_features_without_the_level_column_fail_naming_it(spark, world):
    users = spark.createDataFrame([("a", "gold")], "user_id string, member_level string")
    features = spark.createDataFrame([("a", 1.0)], "user_id string, f1 double")
    with pytest.raises(InputError) as error:
        point_in_time_level(users, features, world.config)
    assert str(error.value) == (
        "features.user_features has no column member_level (features.profile.level_column): "
        "the analyses take the member level held at D from it"
    )


def _plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


@pytest.fixture
def threshold(spark):
    """The session's WindowGroupLimit threshold set to Spark's default (1000) for the test, then restored."""
    before = spark.conf.get(GROUP_LIMIT_THRESHOLD)
    spark.conf.set(GROUP_LIMIT_THRESHOLD, "1000")
    yield
    spark.conf.set(GROUP_LIMIT_THRESHOLD, before)


def _events(spark):
    return spark.createDataFrame(
        [("u", f"e{i}", dt.datetime(2026, 2, 1) + dt.timedelta(minutes=i)) for i in range(3)],
        "user_id string, event_id string, event_ts timestamp",
    )


def test_a_cap_above_1000_is_planned_as_a_per_user_limit_before_the_shuffle(spark, threshold):
    events = _events(spark)
    # Without raising the threshold, Spark 4 plans no group limit for a row_number filter above 1000.
    latest = Window.partitionBy("user_id").orderBy(F.col("event_ts").desc(), F.col("event_id").desc())
    plain = events.withColumn("r", F.row_number().over(latest)).where(F.col("r") <= 1500)
    assert "WindowGroupLimit" not in _plan(plain)
    capped = cap_events(events, 1500)
    plan = _plan(capped)
    assert spark.conf.get(GROUP_LIMIT_THRESHOLD) == "1500"
    # Partial: the limit in each map task before the exchange; Final: after it.
    assert "WindowGroupLimit [user_id" in plan and "Partial" in plan and "Final" in plan
    assert sorted(r["event_id"] for r in capped.collect()) == ["e0", "e1", "e2"]


def test_the_cap_never_lowers_a_higher_threshold(spark, threshold):
    spark.conf.set(GROUP_LIMIT_THRESHOLD, "5000")
    cap_events(_events(spark), 1500)
    assert spark.conf.get(GROUP_LIMIT_THRESHOLD) == "5000"
