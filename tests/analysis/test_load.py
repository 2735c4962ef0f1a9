"""The analysis inputs of snapshot D: point in time, the bot cap, and the preconditions (tests/analysis/
analyze_world.py has the rows and the expected cut worked out by hand)."""

from __future__ import annotations

import pytest

from tests.analysis.analyze_world import PREVIOUS, SETTINGS, D, write_silver, write_snapshot
from tests.conftest import make_config
from userscore.analysis.load import load_inputs
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
