"""Ingest with sources declared absent (ingest.absent_sources): no raw folder needed for them, their silver
tables created empty, the present sources written as usual; asking for an absent source is an input error."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from tests.conftest import make_config
from tests.ingest.raw import NOW, USER_COLUMNS, json_line, order, user, write_json_lines, write_parquet_rows
from tests.orders_only import ABSENT, orders_only
from userscore.catalog import Catalog, declared_schema
from userscore.errors import InputError
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time


def test_absent_sources_need_no_raw_folder_and_get_empty_tables(spark, tmp_path):
    config = make_config(tmp_path, orders_only())
    catalog = Catalog(spark, config)
    raw = tmp_path / "raw"  # only users/ and orders/ exist: no folder for any absent source
    write_parquet_rows(raw, "users", "b1", USER_COLUMNS, [user("u1", "138 0013 8001", "a@example.com")])
    write_json_lines(raw, "orders", "b1", [json_line(order("o1", "u1")), json_line(order("o2", "u1", amount=5.0))])

    plan = plan_ingest(catalog, config.ingest, raw)
    assert [(b.batch_id, b.sources) for b in plan.batches] == [("b1", ("users", "orders"))]
    ingest(catalog, config.ingest, raw, plan, now=reference_time(NOW), run_id="r1")

    orders = catalog.read("silver.orders").select("order_id", "user_id", "amount").orderBy("order_id").collect()
    assert [tuple(r) for r in orders] == [("o1", "u1", 129.5), ("o2", "u1", 5.0)]
    assert [r.user_id for r in catalog.read("silver.users").collect()] == ["u1"]
    for source in ABSENT:
        table = config.ingest.sources[source].table
        assert catalog.read(table).collect() == [], table
        assert catalog.read(table).schema == declared_schema(config.tables[table]), table
    audited = catalog.read("ops.ingest_audit").select("batch_id", "source", "records_read").orderBy("source")
    assert [tuple(r) for r in audited.collect()] == [("b1", "orders", 2), ("b1", "users", 1)]
    assert catalog.read("silver.quarantine").where(F.col("source").isin(*ABSENT)).count() == 0

    # A re-run keeps the empty tables as they are (no new commit) and finds nothing pending.
    versions = {s: catalog.version(config.ingest.sources[s].table) for s in ABSENT}
    again = plan_ingest(catalog, config.ingest, raw)
    ingest(catalog, config.ingest, raw, again, now=reference_time(NOW), run_id="r2")
    assert again.batches == () and {s: catalog.version(config.ingest.sources[s].table) for s in ABSENT} == versions


def test_asking_for_an_absent_source_is_an_input_error(spark, tmp_path):
    config = make_config(tmp_path, orders_only())
    with pytest.raises(InputError) as failure:
        plan_ingest(Catalog(spark, config), config.ingest, tmp_path / "raw", sources=["orders", "events"])
    assert str(failure.value) == (
        "source(s) ['events'] are declared absent (ingest.absent_sources): nothing to ingest for them"
    )
