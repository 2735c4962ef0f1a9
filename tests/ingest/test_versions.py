"""Orders change after they land: later versions (refunds, corrections) replace the silver row by MERGE,
stale or same-time different versions are quarantined, refund times are filled or rejected by the
documented rule, counts reconcile and re-ingesting a batch changes nothing. Every expectation is worked
out by hand from the rows below."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from tests.ingest.raw import NOW, USER_COLUMNS, json_line, order, user, write_json_lines, write_parquet_rows
from userscore.catalog import Catalog
from userscore.errors import InputError
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

SOURCES = ["users", "orders"]
U1 = user("u1", "+86-138-0013-8000", "alice@example.com")
U2 = user("u2", "138 0013 8001", "bob@example.com")

# Batch b1.
O1 = order("o1", "u1", ts="2025-11-11T09:12:00Z")  # an old raw record: no updated_at, no refunded_at
O2 = order("o2", "u2", ts="2025-11-20T10:00:00Z", refunded=True, updated="2025-11-25T08:00:00Z")  # refunded_at absent
O3_V1 = order("o3", "u1", ts="2025-10-30T12:00:00Z", amount=50.0, updated="2025-11-01T00:00:00Z")
O3_V2 = order("o3", "u1", ts="2025-10-30T12:00:00Z", amount=45.0, updated="2025-11-03T00:00:00Z")  # correction
O3_V2_OTHER = order("o3", "u1", ts="2025-10-30T12:00:00Z", amount=44.0, updated="2025-11-03T00:00:00Z")
O4_TIME_NOT_REFUNDED = order("o4", "u1", refunded_at="2025-11-12T00:00:00Z")
O5_REFUND_BEFORE_ORDER = order("o5", "u1", refunded=True, refunded_at="2025-11-10T00:00:00Z")
O6 = order("o6", "u2", ts="2025-09-01T08:00:00Z", amount=10.0)
B1 = [O1, O2, O3_V1, O3_V2, O3_V2_OTHER, O4_TIME_NOT_REFUNDED, O5_REFUND_BEFORE_ORDER, O6]

# Batch b2, a week later: o1's refund arrives; o2 in an older version; o3 in the same version time as silver's
# but different; o6 re-sent unchanged; o7 new.
O1_REFUND = order(
    "o1",
    "u1",
    ts="2025-11-11T09:12:00Z",
    refunded=True,
    refunded_at="2025-12-04T10:00:00Z",
    updated="2025-12-05T00:00:00Z",
)
O2_OLDER = order("o2", "u2", ts="2025-11-20T10:00:00Z", updated="2025-11-21T00:00:00Z")
O3_SAME_TIME = order("o3", "u1", ts="2025-10-30T12:00:00Z", amount=46.0, updated="2025-11-03T00:00:00Z")
O7 = order("o7", "u2", ts="2025-12-01T00:00:00Z", amount=5.0)
B2 = [O1_REFUND, O1_REFUND, O2_OLDER, O3_SAME_TIME, O6, O7]


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _land(raw_dir, batch, users, orders):
    write_parquet_rows(raw_dir, "users", batch, USER_COLUMNS, users)
    write_json_lines(raw_dir, "orders", batch, [json_line(o) for o in orders])


def _run(catalog, config, run_id, **kwargs):
    raw_dir = config.path(config.ingest.raw_dir)
    plan = plan_ingest(catalog, config.ingest, raw_dir, sources=SOURCES, **kwargs)
    return ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id=run_id)


def _orders(catalog):
    return catalog.read("silver.orders").select(
        "order_id", "amount", "is_refunded", "refunded_at", "updated_at", "ingest_batch_id"
    )


def _quarantine(catalog, batch):
    rows = catalog.read("silver.quarantine").where(f"source = 'orders' AND batch_id = '{batch}'").collect()
    return sorted((r.raw_record, r.reason, r.detail) for r in rows)


def _audit(catalog, batch):
    (row,) = catalog.read("ops.ingest_audit").where(f"batch_id = '{batch}' AND source = 'orders'").collect()
    return row.records_read, row.accepted, row.quarantined, row.duplicates_dropped


def _row(order_id, amount, refunded, refunded_at, updated_at, batch):
    return Row(
        order_id=order_id,
        amount=amount,
        is_refunded=refunded,
        refunded_at=None if refunded_at is None else _ts(refunded_at),
        updated_at=_ts(updated_at),
        ingest_batch_id=batch,
    )


AFTER_B1 = [
    _row("o1", 129.5, False, None, "2025-11-11 09:12:00", "b1"),  # updated_at defaults to order_ts
    _row("o2", 129.5, True, "2025-11-25 08:00:00", "2025-11-25 08:00:00", "b1"),  # refunded_at := updated_at
    _row("o3", 45.0, False, None, "2025-11-03 00:00:00", "b1"),  # the later of two versions
    _row("o6", 10.0, False, None, "2025-09-01 08:00:00", "b1"),
]
B1_QUARANTINE = sorted(
    [
        (
            json_line(O3_V1),
            "superseded_version",
            "superseded_version: a later updated_at of the same order_id in this batch was kept",
        ),
        (
            json_line(O3_V2_OTHER),
            "duplicate_key_conflict",
            "duplicate_key_conflict: another record with the same order_id was kept",
        ),
        (
            json_line(O4_TIME_NOT_REFUNDED),
            "inconsistent_time",
            "inconsistent_time: refunded_at set but is_refunded is false",
        ),
        (json_line(O5_REFUND_BEFORE_ORDER), "inconsistent_time", "inconsistent_time: refunded_at before order_ts"),
    ]
)
AFTER_B2 = [
    _row("o1", 129.5, True, "2025-12-04 10:00:00", "2025-12-05 00:00:00", "b2"),  # the refund replaced o1
    *AFTER_B1[1:],
    _row("o7", 5.0, False, None, "2025-12-01 00:00:00", "b2"),
]


def _conflict(record, updated_at):
    return (
        json_line(record),
        "version_conflict",
        f"version_conflict: silver has this order_id from batch b1 with updated_at {updated_at}, not earlier than "
        "this record's, and different values",
    )


B2_QUARANTINE = sorted([_conflict(O2_OLDER, "2025-11-25T08:00:00Z"), _conflict(O3_SAME_TIME, "2025-11-03T00:00:00Z")])


def test_later_versions_replace_stale_ones_are_quarantined_and_reingest_changes_nothing(spark, tmp_path):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    raw_dir = tmp_path / "raw"
    _land(raw_dir, "b1", [U1, U2], B1)
    _land(raw_dir, "b2", [U1], B2)

    _run(catalog, config, "run-1", batch="b1")
    assertDataFrameEqual(_orders(catalog), AFTER_B1)
    assert _quarantine(catalog, "b1") == B1_QUARANTINE
    # 8 read = 4 accepted (o1, o2, o3 v2, o6) + 4 quarantined + 0 duplicates.
    assert _audit(catalog, "b1") == (8, 4, 4, 0)

    _run(catalog, config, "run-2", batch="b2")
    assertDataFrameEqual(_orders(catalog), AFTER_B2)
    assert _quarantine(catalog, "b2") == B2_QUARANTINE
    # 6 read = 2 accepted (o1's refund, o7) + 2 quarantined (o2 older, o3 same time) + 2 duplicates (o1's refund
    # twice in the batch, o6 identical to silver's).
    assert _audit(catalog, "b2") == (6, 2, 2, 2)

    # Re-ingesting b2 (its own rows are not compared with themselves) changes no row and no count.
    _run(catalog, config, "run-3", batch="b2", force=True)
    assertDataFrameEqual(_orders(catalog), AFTER_B2)
    assert _quarantine(catalog, "b2") == B2_QUARANTINE
    assert _audit(catalog, "b2") == (6, 2, 2, 2)

    # Re-ingesting the older b1 never overwrites o1's newer version: b1's o1 is now a stale version.
    _run(catalog, config, "run-4", batch="b1", force=True)
    assertDataFrameEqual(_orders(catalog), AFTER_B2)
    stale_o1 = (
        json_line(O1),
        "version_conflict",
        "version_conflict: silver has this order_id from batch b2 with updated_at 2025-12-05T00:00:00Z, not earlier "
        "than this record's, and different values",
    )
    assert _quarantine(catalog, "b1") == sorted([*B1_QUARANTINE, stale_o1])
    assert _audit(catalog, "b1") == (8, 3, 5, 0)


def test_a_silver_orders_table_from_before_the_version_columns_fails_before_any_write(spark, tmp_path):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    _land(tmp_path / "raw", "b1", [U1, U2], [O1])
    old = spark.createDataFrame(
        [
            (
                "o0",
                "u1",
                _ts("2025-01-01 00:00:00"),
                dt.date(2025, 1, 1),
                1.0,
                None,
                None,
                None,
                False,
                0.0,
                False,
                1,
                "b0",
            )
        ],
        "order_id string, user_id string, order_ts timestamp, order_month date, amount double, category string, "
        "channel string, payment_method string, coupon_used boolean, discount_amount double, is_refunded boolean, "
        "item_count int, ingest_batch_id string",
    )
    old.write.format("delta").partitionBy("order_month").save(catalog.location("silver.orders"))
    with pytest.raises(InputError) as caught:
        _run(catalog, config, "run-1", batch="b1")
    hint = "(the table predates it: move the table away and re-run what writes it, e.g. re-ingest its batches)"
    assert str(caught.value) == (
        "tables disagree with their declaration in conf (tables), nothing written: silver.orders (declared column "
        f"refunded_at (timestamp) is missing {hint}; declared column updated_at (timestamp) is missing {hint})"
    )
    assert not catalog.exists("silver.users") and not catalog.exists("ops.ingest_audit")
