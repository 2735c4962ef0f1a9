"""The graph rules of an ingest source (user_reference lists, distinct_columns, unique_by) are checked when the
config loads (no Spark)."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from userscore.errors import ConfigError


def _error(tmp_path, source: str, settings: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"ingest": {"sources": {source: settings}}})
    return caught.value


def test_shipped_social_edges_check_both_ends_self_links_and_repeated_relations(tmp_path):
    sources = make_config(tmp_path).ingest.sources
    edges = sources["social_edges"]
    assert edges.user_columns == edges.distinct_columns == ("src_user_id", "dst_user_id")
    assert edges.unique_by.columns == ("src_user_id", "dst_user_id", "edge_type")
    assert dict(edges.unique_by.when) == {"edge_type": ("follow", "invite")}
    # One column as a plain string, as before.
    assert (sources["orders"].user_reference, sources["orders"].user_columns) == ("user_id", ("user_id",))


@pytest.mark.parametrize(
    ("settings", "key", "expected"),
    [
        (
            {"distinct_columns": ["src_user_id"]},
            "distinct_columns",
            "two or more different columns, got ['src_user_id']",
        ),
        (
            {"user_reference": ["src_user_id", "src_user_id"]},
            "user_reference",
            "each column once, got ['src_user_id', 'src_user_id']",
        ),
        (
            {"unique_by": {"columns": ["src_user_id"], "when": {"edge_type": ["folow"]}}},
            "unique_by",
            "when.edge_type values among allowed.edge_type, unknown ['folow']",
        ),
        ({"unique_by": {"columns": []}}, "unique_by.columns", "at least one column"),
    ],
)
def test_bad_rules_fail_at_load_naming_the_key(tmp_path, settings, key, expected):
    err = _error(tmp_path, "social_edges", settings)
    assert (err.key_path, err.expected) == (f"ingest.sources.social_edges.{key}", expected)


def test_unique_by_needs_batch_writes(tmp_path):
    err = _error(tmp_path, "orders", {"unique_by": {"columns": ["user_id"]}})
    assert (err.key_path, err.expected) == (
        "ingest.sources.orders.unique_by",
        "needs write: batch (silver rows of other batches stay), got merge",
    )


@pytest.mark.parametrize(
    ("settings", "key", "column"),
    [
        ({"user_reference": ["src_user_id", "dst_user"]}, "user_reference", "dst_user"),
        ({"distinct_columns": ["src_user_id", "dst"]}, "distinct_columns", "dst"),
        ({"unique_by": {"columns": ["src_user_id", "kind"]}}, "unique_by.columns", "kind"),
        ({"unique_by": {"columns": ["src_user_id"], "when": {"kind": ["x"]}}}, "unique_by.when.kind", "kind"),
    ],
)
def test_rule_columns_must_be_declared(tmp_path, settings, key, column):
    err = _error(tmp_path, "social_edges", settings)
    assert (err.key_path, err.found) == (
        f"ingest.sources.social_edges.{key}",
        f"undefined column {column!r} of silver.social_edges",
    )
