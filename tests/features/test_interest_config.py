"""The features.interests section: bad values fail at load naming the key (no Spark)."""

from __future__ import annotations

import pytest

from tests.features.conftest import spec_config
from userscore.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"event_weights": {"share": "high"}}, "features.interests.event_weights.share", "expected a number"),
        ({"event_weights": {"search": 0.0}}, "features.interests.event_weights.search", "> 0"),
        ({"min_share": 1.5}, "features.interests.min_share", "[0, 1]"),
        ({"top_k": 0}, "features.interests.top_k", "[1, 20]"),
        ({"dwell": {"cap_seconds": 0}}, "features.interests.dwell.cap_seconds", "> 0"),
        (
            {"purchase_where": {"is_refundd": [False]}},
            "features.interests.purchase_where.is_refundd",
            "undefined column 'is_refundd' of silver.orders",
        ),
    ],
)
def test_bad_interest_config_fails_at_load(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as error:
        spec_config(tmp_path, {"features": {"interests": overrides}})
    assert error.value.key_path == key
    assert message in str(error.value)
