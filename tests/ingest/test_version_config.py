"""The versioning keys of an ingest source are checked when the config loads (no Spark)."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from userscore.errors import ConfigError


def _error(tmp_path, orders: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"ingest": {"sources": {"orders": orders}}})
    return caught.value


def test_shipped_orders_source_is_versioned_with_defaults_and_refund_times(tmp_path):
    orders = make_config(tmp_path).ingest.sources["orders"]
    assert (orders.write, orders.versioned_by, orders.latest_by) == ("merge", "updated_at", "updated_at")
    assert (dict(orders.defaults), dict(orders.flag_times)) == (
        {"updated_at": "order_ts"},
        {"is_refunded": "refunded_at"},
    )


def test_versioned_by_needs_merge(tmp_path):
    err = _error(tmp_path, {"write": "batch"})
    assert err.key_path == "ingest.sources.orders.versioned_by"
    assert err.expected == "needs write: merge (a later version updates the row), got batch"


@pytest.mark.parametrize(
    ("orders", "key", "found"),
    [
        ({"defaults": {"updated_at": "order_tz"}}, "defaults.updated_at", "undefined column 'order_tz'"),
        ({"flag_times": {"is_refunded": "refund_ts"}}, "flag_times.is_refunded", "undefined column 'refund_ts'"),
        ({"versioned_by": "modified_at"}, "versioned_by", "undefined column 'modified_at'"),
    ],
)
def test_versioning_columns_must_be_declared(tmp_path, orders, key, found):
    err = _error(tmp_path, orders)
    assert (err.key_path, err.found) == (f"ingest.sources.orders.{key}", f"{found} of silver.orders")
