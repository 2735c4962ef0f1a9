"""Idempotent by batch: a complete batch is skipped, --force rewrites the same rows, a new batch appends and
counts its keys already in silver as duplicates, and an older batch never overwrites a newer profile."""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from tests.conftest import TEST_PII_KEY, make_config
from tests.ingest.raw import NOW, USER_COLUMNS, json_line, order, user, write_json_lines, write_parquet_rows
from userscore.catalog import Catalog
from userscore.ingest import SourceCounts, ingest, plan_ingest, validate_source
from userscore.jobs.ingest import reference_time

SOURCES = ["users", "orders"]
TABLES = ["silver.users", "silver.orders", "silver.quarantine", "ops.ingest_audit"]
U1 = user("u1", "+86-138-0013-8000", "alice@example.com")
U2 = user("u2", "138 0013 8001", "bob@example.com", region="south")
U1_MOVED = user("u1", "+86-138-0013-8000", "alice@example.com", region="east", updated="2025-09-01T00:00:00Z")
U3 = user("u3", None, "carol@example.com")


def _run(catalog, config, run_id, **kwargs):
    raw_dir = config.path(config.ingest.raw_dir)
    plan = plan_ingest(catalog, config.ingest, raw_dir, sources=SOURCES, **kwargs)
    results = ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id=run_id)
    return plan, results


def _snapshot(catalog):
    """Every table's rows, without the columns that name the run (run id, timestamps of the run)."""
    return {
        "users": sorted(catalog.read("silver.users").collect()),
        "orders": sorted(catalog.read("silver.orders").collect()),
        "quarantine": sorted(catalog.read("silver.quarantine").drop("run_id", "quarantined_at").collect()),
        "audit": sorted(
            catalog.read("ops.ingest_audit").drop("run_id", "started_at", "finished_at", "table_version").collect()
        ),
    }


def _audit(catalog, batch):
    rows = catalog.read("ops.ingest_audit").where(f"batch_id = '{batch}'").collect()
    return sorted((r.source, r.records_read, r.accepted, r.quarantined, r.duplicates_dropped) for r in rows)


def test_skip_force_and_append(spark, tmp_path):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    raw_dir = tmp_path / "raw"
    write_parquet_rows(raw_dir, "users", "b1", USER_COLUMNS, [U1, U2])
    write_json_lines(
        raw_dir,
        "orders",
        "b1",
        [json_line(order("o1", "u1")), json_line(order("o2", "u2")), json_line(order("o3", "u2", amount=-1.0))],
    )
    _run(catalog, config, "run-1")
    first = _snapshot(catalog)
    versions = {t: catalog.version(t) for t in TABLES}
    assert _audit(catalog, "b1") == [("orders", 3, 2, 1, 0), ("users", 2, 2, 0, 0)]

    # Same batch again: skipped with a message, no table gets a new version.
    plan, results = _run(catalog, config, "run-2", batch="b1")
    assert results == [] and len(plan.messages) == 1
    assert plan.messages[0].startswith("batch b1 already ingested at ") and plan.messages[0].endswith(
        "; use --force to re-ingest"
    )
    plan, results = _run(catalog, config, "run-2b")
    assert results == [] and plan.messages[0].startswith("nothing to ingest")
    assert {t: catalog.version(t) for t in TABLES} == versions

    # Forced: the same rows again, the same counts.
    _run(catalog, config, "run-3", batch="b1", force=True)
    assert _snapshot(catalog) == first
    assert {r.run_id for r in catalog.read("silver.quarantine").collect()} == {"run-3"}

    # A new batch: u1 moved (update), u2 re-sent unchanged (duplicate), u3 new; o1 re-sent (cross-batch
    # duplicate), o4 new.
    write_parquet_rows(raw_dir, "users", "b2", USER_COLUMNS, [U1_MOVED, U2, U3])
    write_json_lines(raw_dir, "orders", "b2", [json_line(order("o1", "u1")), json_line(order("o4", "u3"))])
    plan, _ = _run(catalog, config, "run-4")
    assert [b.batch_id for b in plan.batches] == ["b2"]
    assert _audit(catalog, "b2") == [("orders", 2, 1, 0, 1), ("users", 3, 2, 0, 1)]
    assert _audit(catalog, "b1") == [("orders", 3, 2, 1, 0), ("users", 2, 2, 0, 0)]
    orders = catalog.read("silver.orders").select("order_id", "user_id", "ingest_batch_id")
    assertDataFrameEqual(
        orders,
        [
            Row(order_id="o1", user_id="u1", ingest_batch_id="b1"),
            Row(order_id="o2", user_id="u2", ingest_batch_id="b1"),
            Row(order_id="o4", user_id="u3", ingest_batch_id="b2"),
        ],
    )
    expected_users = [
        Row(user_id="u1", region="east", updated_at=dt.datetime(2025, 9, 1), ingest_batch_id="b2"),
        Row(user_id="u2", region="south", updated_at=dt.datetime(2025, 6, 1), ingest_batch_id="b1"),
        Row(user_id="u3", region="north", updated_at=dt.datetime(2025, 6, 1), ingest_batch_id="b2"),
    ]
    users = catalog.read("silver.users").select("user_id", "region", "updated_at", "ingest_batch_id")
    assertDataFrameEqual(users, expected_users)

    # Re-validating the older batch now (as --force would) keeps u1's newer profile: u1 of b1 is a duplicate, so
    # it is not merged; u2 (whose silver row is b1's own) is accepted again. Validation only: no write needed.
    users = config.ingest.sources["users"]
    validated = validate_source(
        spark,
        "users",
        users,
        config.tables["silver.users"],
        raw_dir / "users" / "b1",
        "b1",
        key=TEST_PII_KEY.encode(),
        max_string_length=1000,
        earliest=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        latest=reference_time(NOW),
        known_users=None,
        existing=catalog.read("silver.users"),
        logger=logging.getLogger("test"),
    )
    try:
        assert validated.counts == SourceCounts("users", 2, 1, 0, 1, {})
        got = validated.tagged.select("user_id", "_status").collect()
        assert sorted((r.user_id, r._status) for r in got) == [("u1", "duplicate"), ("u2", "accepted")]
    finally:
        validated.tagged.unpersist()
