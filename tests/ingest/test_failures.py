"""Failures before any write: reconciliation mismatch, missing PII key, missing raw input, Parquet files that
disagree on a column's type; the job through the CLI entry (exit code 2 with the message, 0 on success)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest
import yaml
from pyspark.sql import functions as F

from tests.conftest import REPO, TEST_SPARK, make_config
from tests.ingest.raw import (
    EVENT_COLUMNS,
    NOW,
    USER_COLUMNS,
    json_line,
    order,
    user,
    write_json_lines,
    write_parquet_rows,
    write_parquet_table,
)
from userscore import cli
from userscore.catalog import Catalog
from userscore.errors import InputError, ReconciliationError
from userscore.ingest import ingest, pipeline, plan_ingest
from userscore.jobs.ingest import reference_time

U1 = user("u1", "+86-138-0013-8000", "alice@example.com")
U2 = user("u2", "138 0013 8001", "bob@example.com")


def _land_users_and_orders(raw_dir, batch="b1"):
    write_parquet_rows(raw_dir, "users", batch, USER_COLUMNS, [U1, U2])
    write_json_lines(
        raw_dir,
        "orders",
        batch,
        [json_line(order("o1", "u1")), json_line(order("o2", "u2")), json_line(order("o3", "u1"))],
    )


def _tables(catalog):
    return [name for name in catalog.config.tables if catalog.exists(name)]


def test_reconciliation_mismatch_fails_before_any_table_is_written(spark, tmp_path, monkeypatch):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    _land_users_and_orders(tmp_path / "raw")
    real = pipeline.mark_outcomes

    def loses_one_order(records, **kwargs):  # a buggy step that silently drops order o2
        tagged = real(records, **kwargs)
        return (
            tagged.where(F.coalesce(F.col("order_id"), F.lit("")) != "o2") if "order_id" in records.columns else tagged
        )

    monkeypatch.setattr(pipeline, "mark_outcomes", loses_one_order)
    plan = plan_ingest(catalog, config.ingest, tmp_path / "raw", sources=["users", "orders"])
    with pytest.raises(ReconciliationError) as failure:
        ingest(catalog, config.ingest, tmp_path / "raw", plan, now=reference_time(NOW), run_id="r")
    assert str(failure.value) == (
        "batch b1 does not reconcile, nothing written: orders: read 3 != accepted 2 + quarantined 0 + duplicates 0"
    )
    assert _tables(catalog) == []


def test_missing_pii_key_fails_before_any_table_exists(spark, tmp_path, monkeypatch):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    _land_users_and_orders(tmp_path / "raw")
    monkeypatch.delenv("USERSCORE_PII_KEY")
    with pytest.raises(InputError, match="environment variable USERSCORE_PII_KEY .* is unset or empty"):
        plan_ingest(catalog, config.ingest, tmp_path / "raw", sources=["users", "orders"])
    assert _tables(catalog) == []


def test_missing_raw_input_fails_before_any_table_exists(spark, tmp_path):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    raw_dir = tmp_path / "raw"
    with pytest.raises(InputError) as failure:
        plan_ingest(catalog, config.ingest, raw_dir, sources=["users", "orders"])
    assert str(failure.value) == (
        f"no raw folder for configured source(s): users ({raw_dir / 'users'}), orders ({raw_dir / 'orders'})"
    )
    (raw_dir / "users").mkdir(parents=True)
    (raw_dir / "orders").mkdir()
    with pytest.raises(InputError, match=r"no landed batches under .*raw for sources \['users', 'orders'\]"):
        plan_ingest(catalog, config.ingest, raw_dir, sources=["users", "orders"])
    write_parquet_rows(raw_dir, "users", "b1", USER_COLUMNS, [U1])
    with pytest.raises(InputError) as failure:
        plan_ingest(catalog, config.ingest, raw_dir, sources=["users", "orders"])
    assert str(failure.value) == f"batch b1 has not landed for every source: missing {raw_dir / 'orders' / 'b1'}"
    write_json_lines(raw_dir, "orders", "b1", [json_line(order("o1", "u1"))])
    with pytest.raises(InputError, match=r"source 'users' of that batch is not ingested yet"):
        plan_ingest(catalog, config.ingest, raw_dir, sources=["orders"], batch="b1")
    # A batch that brings no users of its own (orders landed alone) checks its user ids against silver.users.
    write_json_lines(raw_dir, "orders", "b2", [json_line(order("o2", "u1"))])
    plan = plan_ingest(catalog, config.ingest, raw_dir, sources=["orders"], batch="b2")
    assert [(b.batch_id, b.sources) for b in plan.batches] == [("b2", ("orders",))]
    assert _tables(catalog) == []


@pytest.fixture
def cli_conf(tmp_path, monkeypatch):
    """A conf dir whose overlay ``test`` holds the test Spark settings (so the shared session is unchanged) and
    whose root is tmp_path (warehouse and raw data under it)."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf" / "base", conf / "base")
    (conf / "test").mkdir()
    spark = {**TEST_SPARK["spark"], "jars_dir": str(REPO / ".jars")}
    (conf / "test" / "spark.yaml").write_text(yaml.safe_dump({"spark": spark}))
    # Other jobs' modules may be mid-development; the parser only needs this one.
    monkeypatch.setattr(cli, "JOBS", {"ingest": cli.JOBS["ingest"]})
    return conf


def test_cli_exit_code_2_with_the_message_on_missing_input(spark, cli_conf, capsys):
    code = cli.main(["ingest", "--conf-dir", str(cli_conf), "--env", "test", "--source", "users"])
    assert code == 2
    raw = cli_conf.parent / "data" / "raw"
    assert capsys.readouterr().out.strip() == (
        f"userscore ingest: error: no raw folder for configured source(s): users ({raw / 'users'})"
    )


def test_cli_exit_code_2_naming_batch_file_column_when_parquet_files_disagree_on_a_type(spark, cli_conf, capsys):
    raw = cli_conf.parent / "data" / "raw"
    write_parquet_rows(raw, "users", "b1", USER_COLUMNS, [U1, U2])
    event = {"event_id": "e1", "user_id": "u1", "event_ts": "2025-11-11T09:00:00Z", "event_type": "login"}
    write_parquet_rows(raw, "events", "b1", EVENT_COLUMNS, [{**event, "dwell_seconds": 12.5}], part=0)
    as_text = pa.table({c: pa.array([{**event, "dwell_seconds": "12.5"}.get(c)], pa.string()) for c in EVENT_COLUMNS})
    write_parquet_table(raw, "events", "b1", as_text, part=1)
    argv = ["ingest", "--conf-dir", str(cli_conf), "--env", "test", "--source", "users", "events", "--now", NOW]
    code = cli.main(argv)
    assert code == 2
    assert capsys.readouterr().out.splitlines() == [
        f"userscore ingest: error: batch b1 of events ({raw / 'events' / 'b1'}): Parquet files disagree on the type "
        "of column 'dwell_seconds': double in part-00000.parquet, string in part-00001.parquet"
    ]
    assert _tables(Catalog(spark, make_config(cli_conf.parent))) == []


def test_cli_ingests_and_exits_0(spark, cli_conf, capsys):
    raw = cli_conf.parent / "data" / "raw"
    write_parquet_rows(raw, "users", "b1", USER_COLUMNS, [U1, U2, U1])
    code = cli.main(["ingest", "--conf-dir", str(cli_conf), "--env", "test", "--source", "users", "--now", NOW])
    out = capsys.readouterr().out
    assert code == 0
    assert "  batch b1:\n    users: read 3, accepted 2, quarantined 0, duplicates dropped 1\n" in out
    users = Catalog(spark, make_config(cli_conf.parent)).read("silver.users")
    assert sorted((r.user_id, r.ingest_batch_id) for r in users.collect()) == [("u1", "b1"), ("u2", "b1")]
