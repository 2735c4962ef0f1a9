"""The table catalog: declared schemas, atomic partition overwrite, MERGE, constraints, failures."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from userscore.catalog import SchemaMismatch, partition_predicate
from userscore.errors import InputError

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


def _orders(spark, rows):
    schema = (
        "order_id string, user_id string, order_ts timestamp, order_month date, amount double, category string, "
        "channel string, payment_method string, coupon_used boolean, discount_amount double, is_refunded boolean, "
        "item_count int, refunded_at timestamp, updated_at timestamp, ingest_batch_id string"
    )
    return spark.createDataFrame(rows, schema)


def _order(order_id, month, amount=10.0, batch="b1"):
    ts = dt.datetime(month.year, month.month, 5, 12, 0)
    return (order_id, "u1", ts, month, amount, "books", "app", "card", False, 0.0, False, 1, None, ts, batch)


def test_location_in_path_and_metastore_modes(catalog, config, tmp_path):
    assert catalog.location("silver.orders") == str(tmp_path / "warehouse" / "silver" / "orders")
    from tests.conftest import make_config
    from userscore.catalog import Catalog

    uc = make_config(
        tmp_path, {"catalog": {"mode": "metastore", "catalog": "main", "schemas": {"silver": "crm_silver"}}}
    )
    assert Catalog(None, uc).location("silver.orders") == "main.crm_silver.orders"
    assert Catalog(None, uc).location("ops.ingest_audit") == "main.ops.ingest_audit"


def test_create_from_declared_schema_with_partitioning_and_constraints(spark, catalog):
    catalog.ensure("silver.orders")
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{catalog.location('silver.orders')}`").first()
    assert detail["partitionColumns"] == ["order_month"]
    assert detail["properties"]["delta.constraints.non_negative_amount"] == "amount >= 0"
    schema = catalog.read("silver.orders").schema
    assert [(f.name, f.dataType.simpleString(), f.nullable) for f in schema.fields][:5] == [
        ("order_id", "string", False),
        ("user_id", "string", False),
        ("order_ts", "timestamp", False),
        ("order_month", "date", False),
        ("amount", "double", False),
    ]


def test_overwrite_where_replaces_exactly_one_partition_and_is_idempotent(spark, catalog):
    catalog.overwrite_where("silver.orders", _orders(spark, [_order("o1", D1), _order("o2", D1)]), {"order_month": D1})
    catalog.overwrite_where("silver.orders", _orders(spark, [_order("o3", D2)]), {"order_month": D2})
    # Replace January with a single, different order twice: February is untouched and nothing duplicates.
    for _ in range(2):
        result = catalog.overwrite_where("silver.orders", _orders(spark, [_order("o4", D1, 99.0)]), {"order_month": D1})
    assert result.rows == 1 and result.partition == "`order_month` = DATE'2026-01-01'"
    got = catalog.read("silver.orders").select("order_id", "order_month", "amount")
    assertDataFrameEqual(
        got, [Row(order_id="o3", order_month=D2, amount=10.0), Row(order_id="o4", order_month=D1, amount=99.0)]
    )


def test_rows_outside_the_replaced_partition_fail_without_a_new_version(spark, catalog):
    catalog.overwrite_where("silver.orders", _orders(spark, [_order("o1", D1)]), {"order_month": D1})
    version = catalog.version("silver.orders")
    with pytest.raises(Exception, match="(?i)replaceWhere|does not conform|DELTA_REPLACE_WHERE_MISMATCH"):
        catalog.overwrite_where("silver.orders", _orders(spark, [_order("o9", D2)]), {"order_month": D1})
    assert catalog.version("silver.orders") == version
    assert [r.order_id for r in catalog.read("silver.orders").collect()] == ["o1"]


def test_check_constraint_violation_leaves_previous_version(spark, catalog):
    catalog.append("silver.orders", _orders(spark, [_order("o1", D1)]))
    version = catalog.version("silver.orders")
    with pytest.raises(Exception, match="(?i)check constraint|DELTA_VIOLATE_CONSTRAINT"):
        catalog.append("silver.orders", _orders(spark, [_order("bad", D1, amount=-5.0)]))
    assert catalog.version("silver.orders") == version
    assert [r.order_id for r in catalog.read("silver.orders").collect()] == ["o1"]


def test_merge_inserts_updates_changed_rows_only(spark, catalog):
    catalog.append("silver.orders", _orders(spark, [_order("o1", D1), _order("o2", D1)]))
    result = catalog.merge(
        "silver.orders", _orders(spark, [_order("o1", D1), _order("o2", D1, 50.0), _order("o3", D1)])
    )
    # o1 unchanged -> not rewritten; o2 updated; o3 inserted.
    assert result.rows == 2
    got = catalog.read("silver.orders").select("order_id", "amount")
    assertDataFrameEqual(
        got, [Row(order_id="o1", amount=10.0), Row(order_id="o2", amount=50.0), Row(order_id="o3", amount=10.0)]
    )


def test_schema_mismatch_is_rejected_before_writing(spark, catalog):
    df = _orders(spark, [_order("o1", D1)]).drop("amount").withColumn("surprise", F.lit(1))
    with pytest.raises(SchemaMismatch, match=r"missing columns \['amount'\], undeclared columns \['surprise'\]"):
        catalog.append("silver.orders", df)
    assert not catalog.exists("silver.orders")


def test_reading_a_missing_table_names_it(catalog):
    with pytest.raises(InputError, match="table silver.events does not exist"):
        catalog.read("silver.events")
    with pytest.raises(InputError, match="'silver.nope' is not declared"):
        catalog.read("silver.nope")


def test_partition_predicate_quotes_values():
    assert partition_predicate({"as_of_date": dt.date(2026, 3, 1), "source": "o'k"}) == (
        "`as_of_date` = DATE'2026-03-01' AND `source` = 'o\\'k'"
    )


def test_missing_property_is_added_and_a_conflicting_one_fails_before_writing(spark, config):
    from delta.tables import DeltaTable

    from userscore.catalog import Catalog, TableConflict, declared_schema

    wide = "tags.user_tag_wide"
    catalog = Catalog(spark, config)
    location = catalog.location(wide)
    # As created before conf declared the property: columns only.
    DeltaTable.createIfNotExists(spark).location(location).addColumns(declared_schema(config.tables[wide])).execute()
    catalog.prepare(wide)
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()["properties"]
    stats = properties.pop("delta.dataSkippingStatsColumns").split(",")
    assert properties == {"delta.enableChangeDataFeed": "true"} and "user_id" not in stats and "grade" in stats

    spark.sql(f"ALTER TABLE delta.`{location}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'false')")
    version = catalog.version(wide)
    with pytest.raises(TableConflict) as failure:
        Catalog(spark, config).prepare("silver.orders", wide)
    assert str(failure.value) == (
        "tables disagree with their declaration in conf (tables), nothing written: "
        "tags.user_tag_wide (property delta.enableChangeDataFeed is 'false', declared 'true')"
    )
    assert catalog.version(wide) == version and not catalog.exists("silver.orders")


def test_a_constraint_existing_rows_violate_is_reported_not_skipped(spark, config):
    from delta.tables import DeltaTable

    from userscore.catalog import Catalog, TableConflict, declared_schema

    catalog = Catalog(spark, config)
    location = catalog.location("silver.orders")
    schema = declared_schema(config.tables["silver.orders"])
    DeltaTable.createIfNotExists(spark).location(location).addColumns(schema).partitionedBy("order_month").execute()
    rows = catalog.conform("silver.orders", _orders(spark, [_order("neg", D1, amount=-1.0)]))
    rows.write.format("delta").mode("append").save(location)  # accepted: the table has no constraint yet
    with pytest.raises(
        TableConflict,
        match=r"^cannot add constraint non_negative_amount CHECK \(amount >= 0\) to "
        r"silver.orders: existing rows violate it \(.*DELTA_NEW_CHECK_CONSTRAINT_VIOLATION.*1 rows",
    ):
        Catalog(spark, config).ensure("silver.orders")


def test_a_write_that_commits_nothing_says_no_change(spark, catalog):
    catalog.overwrite_where("silver.orders", _orders(spark, [_order("o1", D1)]), {"order_month": D1})
    version = catalog.version("silver.orders")
    empty = _orders(spark, [_order("o1", D1)]).limit(0)
    result = catalog.overwrite_where("silver.orders", empty, {"order_month": D2})
    assert catalog.version("silver.orders") == version
    assert (result.rows, result.version, result.committed) == (0, version, False)
    assert (
        str(result)
        == f"silver.orders [`order_month` = DATE'2026-02-01']: replaceWhere: no change (Delta version {version})"
    )
    written = catalog.overwrite_where("silver.orders", _orders(spark, [_order("o2", D2)]), {"order_month": D2})
    assert (
        str(written)
        == f"silver.orders [`order_month` = DATE'2026-02-01']: replaceWhere 1 rows -> Delta version {version + 1}"
    )
