"""ingest.absent_sources at config load (pure Python): a target whose rules read an absent source is an error
naming the target and the source, unless the overlay drops it; users and orders cannot be absent."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.orders_only import orders_only
from userscore.config import deep_merge, load_config
from userscore.config.ingest import absent_tables, present_sources
from userscore.errors import ConfigError


def _load(overrides):
    return load_config(env="local", conf_dir=REPO / "conf", overrides=overrides)


def test_a_target_reading_an_absent_source_fails_at_load_naming_target_and_source():
    with pytest.raises(ConfigError) as failure:
        _load({"ingest": {"absent_sources": ["level_changes"]}})
    message = str(failure.value)
    assert "models.targets.vip_promotion_90d.label" in message
    assert "target vip_promotion_90d reads source level_changes (silver.level_changes)" in message
    assert "drop it with models.targets.vip_promotion_90d: null" in message


def test_a_population_reading_an_absent_source_points_at_the_population():
    churn_on_orders = {"label": {"kind": "any_order_within"}, "population": {"kind": "active_within"}}
    overrides = deep_merge(
        orders_only(), {"models": {"targets": {"churn_60d": {"horizon_days": 60, **churn_on_orders}}}}
    )
    with pytest.raises(ConfigError, match=r"models\.targets\.churn_60d\.population: found target churn_60d reads "
                       r"source events \(silver\.events\)"):  # fmt: skip
        _load(overrides)


def test_the_overlay_that_drops_those_targets_loads():
    config = _load(orders_only())
    assert sorted(config.models.targets) == ["repurchase_30d"]
    assert present_sources(config.ingest) == ("users", "orders")
    assert absent_tables(config.ingest) == {
        "silver.events": "events",
        "silver.level_changes": "level_changes",
        "silver.social_edges": "social_edges",
        "silver.identity_links": "identity_links",
        "silver.consents": "consents",
        "silver.campaign_sends": "campaign_sends",
        "silver.campaign_responses": "campaign_responses",
    }


@pytest.mark.parametrize(
    ("absent", "found"),
    [(["orders"], "found orders (silver.orders)"), (["users"], "found users (silver.users)")],
)
def test_users_and_orders_cannot_be_absent(absent, found):
    with pytest.raises(ConfigError, match=rf"ingest\.absent_sources: {re.escape(found)}; expected sources other"):
        _load(deep_merge(orders_only(), {"ingest": {"absent_sources": absent}}))


def test_an_unknown_absent_source_is_an_error():
    with pytest.raises(
        ConfigError,
        match=r"at ingest\.absent_sources: found \('clicks',\) .*expected names of ingest\.sources \(users, orders, ",
    ):
        _load({"ingest": {"absent_sources": ["clicks"]}})
