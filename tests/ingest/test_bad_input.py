"""Hostile raw input that used to get through: JSON lines naming a field twice, placeholder timestamps (year 1,
1900) in every timestamp column of every source, Parquet batches whose files differ in columns or types."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pyarrow as pa
import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from tests.ingest.raw import (
    EDGE_COLUMNS,
    EVENT_COLUMNS,
    LINK_COLUMNS,
    NOW,
    OWN_BATCHES,
    USER_COLUMNS,
    json_line,
    order,
    parquet_record,
    user,
    write_json_lines,
    write_parquet_rows,
    write_parquet_table,
)
from userscore import landing
from userscore.catalog import Catalog
from userscore.errors import InputError
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

BATCH = "b-0001"
BEFORE = "before 2000-01-01T00:00:00Z"  # the default ingest.earliest_date


def _with_extra(line: str, extra: str) -> str:
    """A compact JSON object line with ``extra`` members appended before its closing brace."""
    return line[:-1] + "," + extra + "}"


U1 = user("u1", "+86-138-0013-8000", "alice@example.com")
U2 = user("u2", "138 0013 8001", "bob@example.com")
U_1900 = user("u7", "+86-139-0000-0007", "gina@example.com", registered="1900-01-01T00:00:00Z")
U_UPDATED_YEAR_1 = user("u8", "+86-139-0000-0008", "hank@example.com", updated="0001-01-01T00:00:00Z")

O1 = json_line(order("o1", "u1"))
O_EARLIEST = json_line(order("o2", "u2", ts="2000-01-01T00:00:00Z"))  # exactly the earliest: accepted
O_OTHER_CASE = _with_extra(json_line(order("o3", "u1")), '"Amount":999.0')  # another (undeclared) name: accepted
O_TWICE = _with_extra(json_line(order("o4", "u1")), '"amount":999.0')
O_TWICE_ESCAPED = _with_extra(json_line(order("o5", "u1")), '"\\u0061mount":999.0')  # the same name, escaped
O_TWICE_SAME_VALUE = _with_extra(json_line(order("o6", "u1")), '"amount":129.5')
O_TWO_NAMES = _with_extra(json_line(order("o7", "u1")), '"user_id":"u2","order_id":"o7b","order_id":"o7c"')
O_TWICE_UNDECLARED = _with_extra(json_line(order("o8", "u1")), '"note":"a","note":"b"')
O_YEAR_1 = json_line(order("o9", "u1", ts="0001-01-01T00:00:00Z"))
O_1900 = json_line(order("o10", "u1", ts="1900-01-01T00:00:00Z"))
O_JUST_BEFORE = json_line(order("o11", "u1", ts="2000-01-01T07:59:59+08:00"))  # 1999-12-31T23:59:59Z
O_1900_NEGATIVE = json_line(order("o12", "u1", ts="1900-06-01T00:00:00Z", amount=-1.0))
ORDERS = [
    O1,
    O_EARLIEST,
    O_OTHER_CASE,
    O_TWICE,
    O_TWICE_ESCAPED,
    O_TWICE_SAME_VALUE,
    O_TWO_NAMES,
    O_TWICE_UNDECLARED,
    O_YEAR_1,
    O_1900,
    O_JUST_BEFORE,
    O_1900_NEGATIVE,
]

# events: part-00000 lacks category and page (Spark alone would take its columns and drop part-00001's).
SHORT_EVENT_COLUMNS = ["event_id", "user_id", "event_ts", "event_type", "dwell_seconds"]
E_SHORT = dict(event_id="e3", user_id="u2", event_ts="2025-12-01T09:00:00Z", event_type="click", dwell_seconds=3.0)
E_YEAR_1 = dict(event_id="e2", user_id="u1", event_ts="0001-01-01T00:00:00Z", event_type="login", dwell_seconds=None)
E_FULL = dict(
    event_id="e1",
    user_id="u1",
    event_ts="2025-11-11T09:00:00Z",
    event_type="page_view",
    category="beauty",
    page="/p/1",
    dwell_seconds=12.5,
)
UNION_EVENT_COLUMNS = [*SHORT_EVENT_COLUMNS, "category", "page"]  # first file's columns, then the others'

# level_changes as native Parquet timestamps (UTC), not text.
UTC = dt.UTC
LEVELS = pa.table(
    {
        "change_id": ["l1", "l2"],
        "user_id": ["u1", "u2"],
        "changed_at": pa.array(
            [dt.datetime(2025, 3, 1, tzinfo=UTC), dt.datetime(1, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")
        ),
        "from_level": ["basic", "basic"],
        "to_level": ["silver", "silver"],
    }
)
L_YEAR_1_TEXT = (
    '{"change_id":"l2","user_id":"u2","changed_at":"0001-01-01T00:00:00.000Z","from_level":"basic","to_level":"silver"}'
)

S1 = dict(edge_id="s1", src_user_id="u1", dst_user_id="u2", edge_type="follow", created_at="2025-04-01T00:00:00Z")
S_1899 = dict(edge_id="s2", src_user_id="u2", dst_user_id="u1", edge_type="follow", created_at="1899-12-31T23:59:59Z")
I1 = dict(link_id="i1", user_id="u1", id_type="device", id_value="dev-42", linked_at="2025-01-12T08:00:00Z")
I_YEAR_1 = dict(link_id="i2", user_id="u2", id_type="device", id_value="dev-43", linked_at="0001-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_input")
    config = make_config(tmp)
    raw_dir = tmp / "raw"
    write_parquet_rows(raw_dir, "users", BATCH, USER_COLUMNS, [U1, U2, U_1900, U_UPDATED_YEAR_1])
    write_json_lines(raw_dir, "orders", BATCH, ORDERS)
    write_parquet_rows(raw_dir, "events", BATCH, SHORT_EVENT_COLUMNS, [E_SHORT, E_YEAR_1], part=0)
    write_parquet_rows(raw_dir, "events", BATCH, EVENT_COLUMNS, [E_FULL], part=1)
    write_parquet_table(raw_dir, "level_changes", BATCH, LEVELS)
    write_parquet_rows(raw_dir, "social_edges", BATCH, EDGE_COLUMNS, [S1, S_1899])
    write_parquet_rows(raw_dir, "identity_links", BATCH, LINK_COLUMNS, [I1, I_YEAR_1])
    catalog = Catalog(spark, config)
    # Consents and campaign feedback have their own hand-worked batches (raw.OWN_BATCHES).
    plan = plan_ingest(
        catalog, config.ingest, raw_dir, sources=[s for s in config.ingest.sources if s not in OWN_BATCHES]
    )
    results = ingest(catalog, config.ingest, raw_dir, plan, now=reference_time(NOW), run_id="run-1")
    quarantine = catalog.read("silver.quarantine").collect()
    return SimpleNamespace(catalog=catalog, results=results, quarantine=quarantine)


def _users_text(row):
    return parquet_record(row, USER_COLUMNS, ("phone", "email"))


# (source, raw record as quarantine holds it, reason, detail)
QUARANTINED = [
    ("users", _users_text(U_1900), "bad_timestamp", f"bad_timestamp: registered_at {BEFORE}"),
    ("users", _users_text(U_UPDATED_YEAR_1), "bad_timestamp", f"bad_timestamp: updated_at {BEFORE}"),
    ("orders", O_TWICE, "malformed_record", "malformed_record: field names used more than once: amount"),
    ("orders", O_TWICE_ESCAPED, "malformed_record", "malformed_record: field names used more than once: amount"),
    ("orders", O_TWICE_SAME_VALUE, "malformed_record", "malformed_record: field names used more than once: amount"),
    (
        "orders",
        O_TWO_NAMES,
        "malformed_record",
        "malformed_record: field names used more than once: order_id, user_id",
    ),
    ("orders", O_TWICE_UNDECLARED, "malformed_record", "malformed_record: field names used more than once: note"),
    ("orders", O_YEAR_1, "bad_timestamp", f"bad_timestamp: order_ts {BEFORE}"),
    ("orders", O_1900, "bad_timestamp", f"bad_timestamp: order_ts {BEFORE}"),
    ("orders", O_JUST_BEFORE, "bad_timestamp", f"bad_timestamp: order_ts {BEFORE}"),
    (
        "orders",
        O_1900_NEGATIVE,
        "bad_timestamp",
        f"bad_timestamp: order_ts {BEFORE}; out_of_range: amount outside [0, 100000]",
    ),
    ("events", parquet_record(E_YEAR_1, UNION_EVENT_COLUMNS), "bad_timestamp", f"bad_timestamp: event_ts {BEFORE}"),
    ("level_changes", L_YEAR_1_TEXT, "bad_timestamp", f"bad_timestamp: changed_at {BEFORE}"),
    ("social_edges", parquet_record(S_1899, EDGE_COLUMNS), "bad_timestamp", f"bad_timestamp: created_at {BEFORE}"),
    (
        "identity_links",
        parquet_record(I_YEAR_1, LINK_COLUMNS, ("id_value",)),
        "bad_timestamp",
        f"bad_timestamp: linked_at {BEFORE}",
    ),
]


def test_quarantine_holds_exactly_these_records_reasons_and_details(ingested):
    got = sorted((r.source, r.raw_record, r.reason, r.detail) for r in ingested.quarantine)
    assert got == sorted(QUARANTINED)


# Hand counts (read, accepted, quarantined, duplicates): orders 12 = o1, o2, o3 + the 9 above.
EXPECTED_COUNTS = [
    ("users", 4, 2, 2, 0),
    ("orders", 12, 3, 9, 0),
    ("events", 3, 2, 1, 0),
    ("level_changes", 2, 1, 1, 0),
    ("social_edges", 2, 1, 1, 0),
    ("identity_links", 2, 1, 1, 0),
]


def test_counts_reconcile_by_hand(ingested):
    (result,) = ingested.results
    got = [(c.source, c.records_read, c.accepted, c.quarantined, c.duplicates_dropped) for c in result.counts]
    assert got == EXPECTED_COUNTS


def test_accepted_orders_include_the_earliest_instant_and_ignore_an_other_case_name(ingested):
    got = ingested.catalog.read("silver.orders").select("order_id", "order_ts", "amount")
    expected = [
        Row(order_id="o1", order_ts=dt.datetime(2025, 11, 11, 9, 12), amount=129.5),
        Row(order_id="o2", order_ts=dt.datetime(2000, 1, 1), amount=129.5),
        Row(order_id="o3", order_ts=dt.datetime(2025, 11, 11, 9, 12), amount=129.5),
    ]
    assertDataFrameEqual(got, expected)


def test_events_from_files_with_different_columns_keep_every_column(ingested):
    got = ingested.catalog.read("silver.events").select("event_id", "category", "page", "dwell_seconds")
    expected = [
        Row(event_id="e1", category="beauty", page="/p/1", dwell_seconds=12.5),
        Row(event_id="e3", category=None, page=None, dwell_seconds=3.0),
    ]
    assertDataFrameEqual(got, expected)


def test_accepted_native_parquet_timestamps(ingested):
    got = ingested.catalog.read("silver.level_changes").select("change_id", "changed_at")
    assertDataFrameEqual(got, [Row(change_id="l1", changed_at=dt.datetime(2025, 3, 1))])


def test_a_file_that_is_not_parquet_fails_naming_batch_and_file(spark, tmp_path):
    folder = landing.batch_path(tmp_path, "events", "b1")
    write_parquet_rows(tmp_path, "events", "b1", EVENT_COLUMNS, [E_FULL])
    (folder / "part-00001.parquet").write_text("id,amount\n")  # CSV under a Parquet name
    with pytest.raises(InputError) as failure:
        landing.read_parquet(spark, folder)
    assert str(failure.value) == (
        f"batch b1 of events ({folder}): part-00001.parquet is not a readable Parquet file: "
        "Parquet magic bytes not found in footer. Either the file is corrupted or this is not a parquet file."
    )


def test_nanosecond_timestamps_spark_cannot_read_fail_naming_the_batch(spark, tmp_path):
    folder = landing.batch_path(tmp_path, "level_changes", "b1")
    nanos = pa.table({"change_id": ["l1"], "changed_at": pa.array([dt.datetime(2025, 3, 1)], pa.timestamp("ns"))})
    write_parquet_table(tmp_path, "level_changes", "b1", nanos)
    with pytest.raises(InputError) as failure:
        landing.read_parquet(spark, folder)
    assert str(failure.value) == (
        f"batch b1 of level_changes ({folder}): Spark cannot read the Parquet schema of its files: "
        "[PARQUET_TYPE_ILLEGAL] Illegal Parquet type: INT64 (TIMESTAMP(NANOS,false)). SQLSTATE: 42846"
    )


def test_a_parquet_file_naming_a_column_twice_fails_naming_the_batch(spark, tmp_path):
    folder = landing.batch_path(tmp_path, "events", "b1")
    twice = pa.Table.from_arrays(
        [pa.array(["e1"]), pa.array([1.0]), pa.array([999.0])], names=EVENT_COLUMNS[:1] + ["dwell_seconds"] * 2
    )
    write_parquet_table(tmp_path, "events", "b1", twice)
    with pytest.raises(InputError) as failure:
        landing.read_parquet(spark, folder)
    assert str(failure.value) == (
        f"batch b1 of events ({folder}): Spark cannot read the Parquet schema of its files: [COLUMN_ALREADY_EXISTS] "
        "The column `dwell_seconds` already exists. Choose another name or rename the existing column. SQLSTATE: 42711"
    )
