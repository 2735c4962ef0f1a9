"""Table set-up converges on every run: a table left without its constraints by a killed run gets them from
the next ingest; a table that contradicts its declaration fails the job (exit 2) before any write."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from tests.conftest import REPO, TEST_SPARK, make_config
from tests.ingest.raw import NOW, USER_COLUMNS, json_line, order, user, write_json_lines, write_parquet_rows
from userscore import cli
from userscore.catalog import Catalog
from userscore.ingest import ingest, plan_ingest
from userscore.jobs.ingest import reference_time

ORDERS = "silver.orders"
DECLARED = {
    "delta.constraints.non_negative_amount": "amount >= 0",
    "delta.constraints.non_negative_discount": "discount_amount >= 0",
    "delta.constraints.positive_items": "item_count >= 1",
    "delta.constraints.refund_time_with_refund": "refunded_at IS NULL OR is_refunded",
}


class Killed(Exception):
    """Stands for the process dying between the table's creation and its constraints."""


def _half_built(catalog: Catalog, monkeypatch) -> None:
    """silver.orders as a run killed right after creating it leaves it: columns, no constraints."""

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "_converge", killed)
        with pytest.raises(Killed):
            catalog.ensure(ORDERS)


def _constraints(spark, catalog: Catalog) -> dict[str, str]:
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{catalog.location(ORDERS)}`").first()
    return {k: v for k, v in detail["properties"].items() if k.startswith("delta.constraints.")}


def _land(raw_dir) -> None:
    write_parquet_rows(raw_dir, "users", "b1", USER_COLUMNS, [user("u1", "138 0013 8000", "a@example.com")])
    write_json_lines(raw_dir, "orders", "b1", [json_line(order("o1", "u1")), json_line(order("o2", "u1"))])


def _negative_order(spark, config):
    from userscore.catalog import declared_schema

    at = dt.datetime(2025, 11, 1)
    row = ("bad", "u1", at, dt.date(2025, 11, 1), -5.0, "books", "app", None, False, 0.0, False, 1, None, at, "x")
    return spark.createDataFrame([row], declared_schema(config.tables[ORDERS]))


def test_the_next_ingest_adds_the_constraints_a_killed_run_did_not(spark, tmp_path, monkeypatch):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    _half_built(catalog, monkeypatch)
    assert catalog.exists(ORDERS) and _constraints(spark, catalog) == {}

    _land(tmp_path / "raw")
    plan = plan_ingest(catalog, config.ingest, tmp_path / "raw", sources=["users", "orders"])
    ingest(Catalog(spark, config), config.ingest, tmp_path / "raw", plan, now=reference_time(NOW), run_id="r")

    assert _constraints(spark, catalog) == DECLARED
    assert sorted(r.order_id for r in catalog.read(ORDERS).collect()) == ["o1", "o2"]
    version = catalog.version(ORDERS)
    with pytest.raises(Exception, match=r"CHECK constraint non_negative_amount \(amount >= 0\) violated"):
        catalog.append(ORDERS, _negative_order(spark, config))
    assert catalog.version(ORDERS) == version


@pytest.fixture
def conf_dir(tmp_path):
    """conf/base with an overlay ``test`` holding the test Spark settings (the shared session is unchanged)."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf" / "base", conf / "base")
    (conf / "test").mkdir()
    spark = {**TEST_SPARK["spark"], "jars_dir": str(REPO / ".jars")}
    (conf / "test" / "spark.yaml").write_text(yaml.safe_dump({"spark": spark}))
    return conf


def test_a_conflicting_constraint_exits_2_before_any_write(spark, tmp_path, monkeypatch, conf_dir, capsys):
    config = make_config(tmp_path)  # the CLI's warehouse: the project root is the conf dir's parent, tmp_path
    catalog = Catalog(spark, config)
    _half_built(catalog, monkeypatch)
    spark.sql(f"ALTER TABLE delta.`{catalog.location(ORDERS)}` ADD CONSTRAINT non_negative_amount CHECK (amount > 0)")
    version = catalog.version(ORDERS)
    _land(tmp_path / "data" / "raw")

    capsys.readouterr()
    code = cli.main(
        ["ingest", "--conf-dir", str(conf_dir), "--env", "test", "--source", "users", "orders", "--now", NOW]
    )
    assert code == 2
    assert capsys.readouterr().out == (
        "userscore ingest: error: tables disagree with their declaration in conf (tables), nothing written: "
        "silver.orders (constraint non_negative_amount is CHECK (amount > 0), declared CHECK (amount >= 0))\n"
    )
    assert catalog.version(ORDERS) == version
    assert _constraints(spark, catalog) == {"delta.constraints.non_negative_amount": "amount > 0"}
    assert [n for n in config.tables if catalog.exists(n)] == [ORDERS]
