"""The features config section: families are data, and bad config fails at load with its key path."""

from __future__ import annotations

import pytest

from tests.features.conftest import spec_config
from userscore.errors import ConfigError
from userscore.features import feature_columns
from userscore.features.inputs import skipped_by_source

LOYALTY = {
    "measures": {
        "wishlist_adds": {"source": "events", "agg": "count", "windowed": True, "where": {"event_type": ["favorite"]}},
        "big_orders": {"source": "orders", "agg": "count", "where": {"is_refunded": [False]}},
    },
    "ratios": {"big_order_share": ["big_orders", "order_count"]},
    "trends": ["wishlist_adds"],
}


def test_a_new_family_is_yaml_only_and_its_columns_follow_the_declared_families(tmp_path):
    before = feature_columns(spec_config(tmp_path).features)
    with_loyalty = spec_config(tmp_path / "loyalty", {"features": {"families": {"loyalty": LOYALTY}}}).features
    # After the generic families declared before it; the customer-base (BG/NBD) columns stay last.
    customer_base = before[before.index("bgnbd_x") :]
    assert customer_base == [
        "bgnbd_x",
        "bgnbd_t_x_days",
        "bgnbd_T_days",
        "bgnbd_p_alive",
        "bgnbd_expected_purchases_30d",
        "bgnbd_expected_purchases_90d",
    ]
    assert feature_columns(with_loyalty) == [
        *before[: before.index("bgnbd_x")],
        "wishlist_adds_30d",
        "wishlist_adds_90d",
        "wishlist_adds_365d",
        "big_orders",
        "wishlist_adds_trend",
        "big_order_share",
        *customer_base,
    ]
    # The new family is skipped with the others when its source is declared absent.
    sources = with_loyalty.sources
    skipped = skipped_by_source(with_loyalty, {sources.events.table, sources.level_changes.table})
    assert list(skipped["events"]) == ["behaviour", "interaction", "loyalty", "preference", "interests"]
    assert skipped["events"]["loyalty"] == ["wishlist_adds"]
    assert list(skipped["level_changes"]) == ["profile"]


def test_preference_columns_go_where_placement_puts_them(tmp_path):
    columns = feature_columns(
        spec_config(
            tmp_path,
            {"features": {"preference": {"placement": {"columns": "transaction", "category_count": "behaviour"}}}},
        ).features
    )
    after_transaction = columns[columns.index("coupon_order_share") + 1]
    after_behaviour = columns[columns.index("page_views_trend") + 1]
    assert (after_transaction, after_behaviour) == ("top_category", "category_count")


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"windows": [30, 30]}, "features.windows", "distinct positive"),
        ({"rfm": {"score_window": 180}}, "features.rfm", "score_window 180 must be one of windows"),
        (
            {
                "families": {
                    "behaviour": {"measures": {"logins": {"source": "events", "agg": "count", "windowd": True}}}
                }
            },
            "features.families.behaviour.measures.logins.windowd",
            "unknown key",
        ),
        (
            {"families": {"behaviour": {"measures": {"dwell": {"source": "events", "agg": "sum"}}}}},
            "features.families.behaviour.measures.dwell.column",
            "required when agg is 'sum'",
        ),
        (
            {"families": {"behaviour": {"measures": {"dwell": {"source": "events", "agg": "sum", "column": "dwel"}}}}},
            "features.families.behaviour.measures.dwell.column",
            "undefined column 'dwel' of silver.events",
        ),
        (
            {"families": {"transaction": {"ratios": {"aov": ["total_order_value", "orders"]}}}},
            "features.families",
            "uses undefined measure columns ['orders']",
        ),
        (
            {"families": {"loyalty": {"measures": {"logins": {"source": "events", "agg": "count"}}}}},
            "features.families",
            "measure 'logins' is already defined in family 'behaviour'",
        ),
        ({"families": {"rfm": {"measures": {}}}}, "features.families", "names other than"),
        ({"families": {"customer_base": {"measures": {}}}}, "features.families", "names other than"),
        ({"customer_base": {"horizons_days": [30, 30]}}, "features.customer_base.horizons_days", "distinct horizons"),
        ({"customer_base": {"horizons_days": [0]}}, "features.customer_base.horizons_days.0", "integer in [1,"),
        ({"customer_base": {"time_unit": "months"}}, "features.customer_base.time_unit", "one of 'days', 'weeks'"),
        ({"customer_base": {"fit_resolution_days": 0}}, "features.customer_base.fit_resolution_days", "in [1, 28]"),
        ({"families": {"loyalty": {"ratios": {}}}}, "features.families.loyalty.measures", "required key"),
        (
            {"preference": {"placement": {"columns": "loyalty"}}},
            "features.preference",
            "placement.columns names a family of features.families, got 'loyalty'",
        ),
        (
            {"rfm": {"segments": [{"segment": "All", "r": [1, 5], "fm": [2, 5]}]}},
            "features.rfm.segments",
            "missing [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]",
        ),
        ({"preference": {"score_weights": {"top_category": 1.0}}}, "features.preference.score_weights", "keys among"),
        (
            {"sources": {"orders": {"table": "silver.order", "time": "order_ts"}}},
            "features.sources.orders.table",
            "undefined table 'silver.order'",
        ),
    ],
)
def test_bad_features_config_fails_at_load(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as error:
        spec_config(tmp_path, {"features": overrides})
    assert error.value.key_path == key
    assert message in str(error.value)
