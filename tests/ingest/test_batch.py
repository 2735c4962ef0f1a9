"""One hand-made batch with every bad-record kind across all six sources, ingested once for the module:
quarantine reasons and texts, precedence, reconciliation, accepted rows, PII."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from tests.ingest.raw import (
    EDGE_COLUMNS,
    EVENT_COLUMNS,
    LEVEL_COLUMNS,
    LINK_COLUMNS,
    NOW,
    OWN_BATCHES,
    USER_COLUMNS,
    hmac_hex,
    json_line,
    order,
    parquet_record,
    user,
    write_json_lines,
    write_parquet_rows,
)
from userscore import landing
from userscore.catalog import Catalog
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

BATCH = "b-0001"
USER_PII = ("phone", "email")

# users (Parquet): u1, u2, u3 valid; u1 twice (identical); u2 also in an older version (conflict).
U1 = user("u1", "+86-138-0013-8000", " Alice@Example.COM ")
U2 = user("u2", "138 0013 8001", "bob@example.com", region="south")
U2_OLDER = user("u2", "138 0013 8001", "bob@example.com", region="west", updated="2025-05-01T00:00:00Z")
U3 = user("u3", None, "carol@example.com")
U4_NO_ID = user(None, "+86-139-0000-0004", "dave@example.com")
U5_FUTURE = user("u5", "+86-139-0000-0005", "eve@example.com", registered="2099-01-01T00:00:00Z")
U6_LEVEL = user("u6", "+86-139-0000-0006", "frank@example.com", level="diamond")
USERS = [U1, U2, U3, U4_NO_ID, U5_FUTURE, U1, U2_OLDER, U6_LEVEL]

# orders (JSON lines)
O1 = json_line(order("o1", "u1"))
O1_AGAIN = (
    '{"item_count": 2, "is_refunded": false, "discount_amount": 20.0, "coupon_used": true, "channel": "app", '
    '"category": "beauty", "amount": 129.5, "order_ts": "2025-11-11T09:12:00Z", "user_id": "u1", "order_id": "o1"}'
)
O2 = json_line(order("o2", "u2", ts="2025-12-01T10:00:00Z", amount=20.0, payment="wallet"))
# Lands after O2, so O2 is kept (first seen), although this one's values sort first.
O2_CONFLICT = json_line(order("o2", "u2", ts="2025-12-01T10:00:00Z", amount=19.0, payment="wallet"))
O3 = json_line(
    order("o3", "u3", ts="2025-10-31T23:59:59Z", channel="store", coupon=False, discount=0.0, items=1, payment="card")
)
O_MALFORMED = '{"order_id":"o4","user_id":"u1",'
O_TRAILING = json_line(order("o18")) + " and more"
O_ENCODING = json_line(order("o5", category="cafe")).encode().replace(b"cafe", b"caf\xe9")  # Latin-1, not UTF-8
O_NO_USER = json_line(order("o6", None))
O_AMOUNT_TEXT = json_line(order("o7", amount="12,50"))
O_BAD_TS = json_line(order("o8", ts="2025-13-45T00:00:00Z"))
O_FUTURE = json_line(order("o9", ts="2099-01-01T00:00:00Z"))
O_NEGATIVE = json_line(order("o10", amount=-50))
O_CHANNEL = json_line(order("o11", channel="fax"))
O_PAYMENT = json_line(order("o19", payment="barter"))
O_LONG = json_line(order("o12", category="x" * 41))
O_GHOST = json_line(order("o13", "u-ghost"))
O_QUARANTINED_USER = json_line(order("o14", "u5"))
O_TWO_REQUIRED_FIRST = json_line(order("o15", None, amount=-5))
O_TWO_RANGE_FIRST = json_line(order("o16", "u-ghost", amount=9e9))
O_ITEMS_TEXT = json_line(order("o17", items="two"))
ORDERS = [
    O1,
    O2,
    O3 + "\r",  # a CRLF line ending is still a JSON object
    O_MALFORMED,
    O_ENCODING,
    O_NO_USER,
    O_AMOUNT_TEXT,
    O_BAD_TS,
    O_FUTURE,
    O_NEGATIVE,
    O_CHANNEL,
    O_PAYMENT,
    O_LONG,
    O_GHOST,
    O_QUARANTINED_USER,
    O_TWO_REQUIRED_FIRST,
    O_TWO_RANGE_FIRST,
    O_ITEMS_TEXT,
    O1_AGAIN,
    O2_CONFLICT,
    O_TRAILING,
]


def _row(columns, *values):
    return dict(zip(columns, values, strict=True))


E1 = _row(EVENT_COLUMNS, "e1", "u1", "2025-11-11T09:00:00Z", "page_view", "beauty", "/p/1", 12.5)
E2 = _row(EVENT_COLUMNS, "e2", "u2", "2025-12-01T09:00:00Z", "login", None, None, None)
E_TYPE = _row(EVENT_COLUMNS, "e3", "u1", "2025-11-11T09:01:00Z", "teleport", None, None, None)
E_DWELL = _row(EVENT_COLUMNS, "e4", "u2", "2025-11-11T09:02:00Z", "page_view", "books", "/p/2", -1.0)
L1 = _row(LEVEL_COLUMNS, "l1", "u1", "2025-03-01T00:00:00Z", "basic", "silver")
L_NO_LEVEL = _row(LEVEL_COLUMNS, "l2", "u2", "2025-03-01T00:00:00Z", "basic", None)
S1 = _row(EDGE_COLUMNS, "s1", "u1", "u2", "follow", "2025-04-01T00:00:00Z")
S_GHOST = _row(EDGE_COLUMNS, "s2", "u-ghost", "u1", "follow", "2025-04-01T00:00:00Z")
I1 = _row(LINK_COLUMNS, "i1", "u1", "phone", "+86 138 0013 8000", "2025-01-10T08:00:00Z")
I2 = _row(LINK_COLUMNS, "i2", "u2", "email", "Bob@Example.com", "2025-01-11T08:00:00Z")
I3 = _row(LINK_COLUMNS, "i3", "u1", "device", "dev-42", "2025-01-12T08:00:00Z")
I_NO_VALUE = _row(LINK_COLUMNS, "i4", "u3", "email", None, "2025-01-13T08:00:00Z")


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest_batch")
    # social_edges arrive as a Delta table per batch (format: delta) to cover that reader too.
    config = make_config(tmp, {"ingest": {"max_string_length": 40, "sources": {"social_edges": {"format": "delta"}}}})
    raw_dir = tmp / "raw"
    write_parquet_rows(raw_dir, "users", BATCH, USER_COLUMNS, USERS)
    write_json_lines(raw_dir, "orders", BATCH, ORDERS)
    write_parquet_rows(raw_dir, "events", BATCH, EVENT_COLUMNS, [E1, E2, E_TYPE, E_DWELL])
    write_parquet_rows(raw_dir, "level_changes", BATCH, LEVEL_COLUMNS, [L1, L_NO_LEVEL])
    edges = spark.createDataFrame([S1, S_GHOST], ", ".join(f"{c} string" for c in EDGE_COLUMNS))
    edges.write.format("delta").save(str(landing.batch_path(raw_dir, "social_edges", BATCH)))
    write_parquet_rows(raw_dir, "identity_links", BATCH, LINK_COLUMNS, [I1, I2, I3, I_NO_VALUE])
    catalog = Catalog(spark, config)
    # Consents and campaign feedback have their own hand-worked batches (raw.OWN_BATCHES).
    sources = [s for s in config.ingest.sources if s not in OWN_BATCHES]
    plan = plan_ingest(catalog, config.ingest, raw_dir, sources=sources)
    results = ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id="run-1")
    quarantine = catalog.read("silver.quarantine").collect()
    return SimpleNamespace(catalog=catalog, results=results, quarantine=quarantine, plan=plan)


def _users_text(row):
    return parquet_record(row, USER_COLUMNS, USER_PII)


# (kind, source, raw record as landed, the text quarantine must hold, expected reason)
BAD_RECORDS = [
    ("malformed_record", "orders", O_MALFORMED, "malformed_record"),
    ("malformed_record_trailing_text", "orders", O_TRAILING, "malformed_record"),
    ("invalid_encoding", "orders", O_ENCODING.decode("utf-8", errors="replace"), "invalid_encoding"),
    ("missing_required", "orders", O_NO_USER, "missing_required"),
    ("missing_required_users", "users", _users_text(U4_NO_ID), "missing_required"),
    ("missing_required_levels", "level_changes", parquet_record(L_NO_LEVEL, LEVEL_COLUMNS), "missing_required"),
    (
        "missing_required_pii",
        "identity_links",
        parquet_record(I_NO_VALUE, LINK_COLUMNS, ("id_value",)),
        "missing_required",
    ),
    ("bad_type_double", "orders", O_AMOUNT_TEXT, "bad_type"),
    ("bad_type_int", "orders", O_ITEMS_TEXT, "bad_type"),
    ("bad_timestamp", "orders", O_BAD_TS, "bad_timestamp"),
    ("future_timestamp", "orders", O_FUTURE, "future_timestamp"),
    ("future_timestamp_users", "users", _users_text(U5_FUTURE), "future_timestamp"),
    ("out_of_range", "orders", O_NEGATIVE, "out_of_range"),
    ("out_of_range_events", "events", parquet_record(E_DWELL, EVENT_COLUMNS), "out_of_range"),
    ("invalid_value", "orders", O_CHANNEL, "invalid_value"),
    ("invalid_value_payment", "orders", O_PAYMENT, "invalid_value"),
    ("invalid_value_events", "events", parquet_record(E_TYPE, EVENT_COLUMNS), "invalid_value"),
    ("invalid_value_users", "users", _users_text(U6_LEVEL), "invalid_value"),
    ("oversize_string", "orders", O_LONG, "oversize_string"),
    ("unknown_user", "orders", O_GHOST, "unknown_user"),
    ("unknown_user_quarantined_user", "orders", O_QUARANTINED_USER, "unknown_user"),
    ("unknown_user_edges", "social_edges", parquet_record(S_GHOST, EDGE_COLUMNS), "unknown_user"),
    ("duplicate_key_conflict", "orders", O2_CONFLICT, "duplicate_key_conflict"),
    ("duplicate_key_conflict_users", "users", _users_text(U2_OLDER), "duplicate_key_conflict"),
]


@pytest.mark.parametrize(("kind", "source", "text", "reason"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_each_bad_record_kind_is_quarantined_with_its_reason(ingested, kind, source, text, reason):
    rows = [
        (r.source, r.batch_id, r.run_id, r.reason, r.raw_record) for r in ingested.quarantine if r.raw_record == text
    ]
    assert rows == [(source, BATCH, "run-1", reason, text)]


def test_quarantine_holds_exactly_the_rejected_records(ingested):
    expected = [(source, reason, text) for _, source, text, reason in BAD_RECORDS]
    expected += [("orders", "missing_required", O_TWO_REQUIRED_FIRST), ("orders", "out_of_range", O_TWO_RANGE_FIRST)]
    got = sorted((r.source, r.reason, r.raw_record) for r in ingested.quarantine)
    assert got == sorted(expected)


def test_invalid_encoding_keeps_the_raw_bytes_in_the_detail(ingested):
    (row,) = [r for r in ingested.quarantine if r.reason == "invalid_encoding"]
    assert row.detail == f"invalid_encoding: not valid UTF-8 (raw bytes, hex: {O_ENCODING.hex()})"


def test_a_record_with_several_problems_gets_the_first_reason_and_lists_all(ingested):
    details = {r.raw_record: (r.reason, r.detail) for r in ingested.quarantine}
    assert details[O_TWO_REQUIRED_FIRST] == (
        "missing_required",
        "missing_required: user_id is null or blank; out_of_range: amount outside [0, 100000]",
    )
    assert details[O_TWO_RANGE_FIRST] == (
        "out_of_range",
        "out_of_range: amount outside [0, 100000]; unknown_user: user_id not among accepted users",
    )
    assert details[O_FUTURE] == ("future_timestamp", "future_timestamp: order_ts after 2026-01-02T00:00:00Z")


# Hand counts: users 8 = 3 accepted (u1, u2, u3) + 4 quarantined (no id, future, older u2, bad level) + 1 duplicate
# (u1 again); orders 21 = 3 (o1, o2, o3) + 17 (o4..o19 and the conflicting o2) + 1 (o1 again, keys reordered).
EXPECTED_AUDIT = [
    ("users", 8, 3, 4, 1),
    ("orders", 21, 3, 17, 1),
    ("events", 4, 2, 2, 0),
    ("level_changes", 2, 1, 1, 0),
    ("social_edges", 2, 1, 1, 0),
    ("identity_links", 4, 3, 1, 0),
]


def test_reconciliation_equals_hand_counts_and_is_stored_in_the_audit(ingested):
    audit = ingested.catalog.read("ops.ingest_audit")
    got = [
        (r.source, r.records_read, r.accepted, r.quarantined, r.duplicates_dropped, r.batch_id, r.run_id)
        for r in audit.collect()
    ]
    assert sorted(got) == sorted((*e, BATCH, "run-1") for e in EXPECTED_AUDIT)
    (result,) = ingested.results
    assert [(c.source, c.records_read, c.accepted, c.quarantined, c.duplicates_dropped) for c in result.counts] == (
        EXPECTED_AUDIT
    )
    orders = next(c for c in result.counts if c.source == "orders")
    assert dict(orders.reasons) == {
        "bad_timestamp": 1,
        "bad_type": 2,
        "duplicate_key_conflict": 1,
        "future_timestamp": 1,
        "invalid_encoding": 1,
        "invalid_value": 2,
        "malformed_record": 2,
        "missing_required": 2,
        "out_of_range": 2,
        "oversize_string": 1,
        "unknown_user": 2,
    }
    assert (
        "    quarantine reasons: duplicate_key_conflict 1, future_timestamp 1, invalid_value 1, missing_required 1"
        in result.summary()
    )


def _ts(text):
    return dt.datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)


def test_accepted_orders_are_typed_with_month_and_batch(ingested):
    got = ingested.catalog.read("silver.orders")
    expected = [
        Row(
            order_id="o1",
            user_id="u1",
            order_ts=_ts("2025-11-11T09:12:00"),
            order_month=dt.date(2025, 11, 1),
            amount=129.5,
            category="beauty",
            channel="app",
            payment_method=None,  # absent in the raw record
            coupon_used=True,
            discount_amount=20.0,
            is_refunded=False,
            item_count=2,
            refunded_at=None,
            updated_at=_ts("2025-11-11T09:12:00"),  # absent in the raw record: order_ts
            ingest_batch_id=BATCH,
        ),
        Row(
            order_id="o2",
            user_id="u2",
            order_ts=_ts("2025-12-01T10:00:00"),
            order_month=dt.date(2025, 12, 1),
            amount=20.0,
            category="beauty",
            channel="app",
            payment_method="wallet",
            coupon_used=True,
            discount_amount=20.0,
            is_refunded=False,
            item_count=2,
            refunded_at=None,
            updated_at=_ts("2025-12-01T10:00:00"),  # absent in the raw record: order_ts
            ingest_batch_id=BATCH,
        ),
        Row(
            order_id="o3",
            user_id="u3",
            order_ts=_ts("2025-10-31T23:59:59"),
            order_month=dt.date(2025, 10, 1),
            amount=129.5,
            category="beauty",
            channel="store",
            payment_method="card",
            coupon_used=False,
            discount_amount=0.0,
            is_refunded=False,
            item_count=1,
            refunded_at=None,
            updated_at=_ts("2025-10-31T23:59:59"),  # absent in the raw record: order_ts
            ingest_batch_id=BATCH,
        ),
    ]
    assertDataFrameEqual(got, expected)


def test_accepted_users_keep_the_latest_version_with_hashed_contacts(ingested):
    got = ingested.catalog.read("silver.users").select("user_id", "region", "phone_hash", "email_hash", "updated_at")
    expected = [
        Row(
            user_id="u1",
            region="north",
            phone_hash=hmac_hex("8613800138000"),
            email_hash=hmac_hex("alice@example.com"),
            updated_at=_ts("2025-06-01T00:00:00"),
        ),
        Row(
            user_id="u2",
            region="south",
            phone_hash=hmac_hex("13800138001"),
            email_hash=hmac_hex("bob@example.com"),
            updated_at=_ts("2025-06-01T00:00:00"),
        ),
        Row(
            user_id="u3",
            region="north",
            phone_hash=None,
            email_hash=hmac_hex("carol@example.com"),
            updated_at=_ts("2025-06-01T00:00:00"),
        ),
    ]
    assertDataFrameEqual(got, expected)


def test_identity_links_hash_like_the_profiles_so_they_join(ingested):
    got = ingested.catalog.read("silver.identity_links").select("link_id", "user_id", "id_type", "id_value")
    expected = [
        Row(link_id="i1", user_id="u1", id_type="phone", id_value=hmac_hex("8613800138000")),
        Row(link_id="i2", user_id="u2", id_type="email", id_value=hmac_hex("bob@example.com")),
        Row(link_id="i3", user_id="u1", id_type="device", id_value=hmac_hex("dev-42")),
    ]
    assertDataFrameEqual(got, expected)


def test_no_clear_phone_or_email_in_any_silver_table(ingested):
    catalog = ingested.catalog
    clear = set()
    for row in [*USERS, I1, I2, I3, I_NO_VALUE]:
        for column in ("phone", "email", "id_value"):
            value = row.get(column)
            if value and row.get("id_type") != "device":
                digits = "".join(ch for ch in value if ch.isdigit())
                clear |= {v for v in (value, value.strip(), value.strip().lower(), digits) if len(v) >= 6}
    tables = [name for name in catalog.config.tables if name.startswith("silver.") and catalog.exists(name)]
    assert {"silver.users", "silver.identity_links", "silver.quarantine"} <= set(tables)
    leaks = []
    for name in tables:
        df = catalog.read(name)
        strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
        for row in df.select(*strings).collect():
            leaks += [(name, c, row[c]) for c in strings if row[c] and any(v in row[c] for v in clear)]
    assert leaks == []
