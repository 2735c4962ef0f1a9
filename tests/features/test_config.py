"""The features config section: defaults equal the YAML, and bad config fails at load with its key path."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from userscore.config.features import FeaturesConfig
from userscore.errors import ConfigError


def test_yaml_restates_the_defaults(features_config):
    assert features_config.features == FeaturesConfig()
    assert features_config.features.measure_columns()[:7] == [
        "recency_days",
        "frequency_30d",
        "frequency_90d",
        "frequency_365d",
        "monetary_30d",
        "monetary_90d",
        "monetary_365d",
    ]


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"windows": [30, 30]}, "features.windows", "distinct positive"),
        ({"rfm": {"score_window": 180}}, "features.rfm", "score_window 180 must be one of windows"),
        (
            {"behaviour": {"measures": {"logins": {"source": "events", "agg": "count", "windowd": True}}}},
            "features.behaviour.measures.logins.windowd",
            "unknown key",
        ),
        (
            {"behaviour": {"measures": {"dwell": {"source": "events", "agg": "sum"}}}},
            "features.behaviour.measures.dwell.column",
            "required when agg is 'sum'",
        ),
        (
            {"behaviour": {"measures": {"dwell": {"source": "events", "agg": "sum", "column": "dwel"}}}},
            "features.behaviour.measures.dwell.column",
            "undefined column 'dwel' of silver.events",
        ),
        (
            {"transaction": {"ratios": {"aov": ["total_order_value", "orders"]}}},
            "features.transaction",
            "uses undefined measure columns ['orders']",
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
        make_config(tmp_path, {"features": overrides})
    assert error.value.key_path == key
    assert message in str(error.value)
