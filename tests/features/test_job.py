"""The features job: backfill, idempotent re-run of a date, argument and input checks before writing."""

from __future__ import annotations

import argparse
import datetime as dt
import logging

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.features.reference import reference
from tests.features.silver import D, scenario
from userscore.catalog import Catalog
from userscore.errors import InputError
from userscore.jobs import features as job
from userscore.jobs.arguments import date_range
from userscore.runner import JobContext

D_MINUS_7 = D - dt.timedelta(days=7)


def _context(config, catalog, argv):
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    args = parser.parse_args(argv)
    return JobContext(name="features", config=config, args=args, logger=logging.getLogger("test"), _catalog=catalog)


def _expected(spark, actual, rows):
    doubles = {f.name for f in actual.schema.fields if isinstance(f.dataType, T.DoubleType)}
    typed = [
        Row(**{c: float(r[c]) if c in doubles and r[c] is not None else r[c] for c in actual.columns}) for r in rows
    ]
    return spark.createDataFrame(typed, actual.schema)


def test_backfill_then_rerun_replaces_exactly_one_partition(spark, config):
    catalog = Catalog(spark, config)
    silver = scenario()
    for name, table in silver.TABLES.items():
        catalog.append(table, silver.frame(spark, config, name))

    lines = job.run(_context(config, catalog, ["--from", str(D_MINUS_7), "--to", str(D), "--every", "7d"]))
    assert [line.split(":")[0] for line in lines] == [str(D_MINUS_7), str(D)]
    assert lines[1].startswith(f"{D}: 7 users in ") and "Lost 2" in lines[1] and "Champions 1" in lines[1]
    # The scenario's five buyers do not identify BG/NBD: the snapshot is written, its model columns null.
    assert "; BG/NBD fit failed, bgnbd_p_alive and bgnbd_expected_purchases_* null: BG/NBD fit is" in lines[1]

    table = catalog.read("features.user_features")
    for day in (D_MINUS_7, D):
        actual = table.where(f"as_of_date = DATE'{day}'")
        assertDataFrameEqual(actual, _expected(spark, actual, reference(silver, day)), rtol=1e-9)
    before = {day: table.where(f"as_of_date = DATE'{day}'").collect() for day in (D_MINUS_7, D)}
    boundaries_before = catalog.read("features.rfm_boundaries").collect()
    version = catalog.version("features.user_features")

    job.run(_context(config, catalog, ["--as-of", str(D)]))
    table = catalog.read("features.user_features")
    assert catalog.version("features.user_features") == version + 1
    for day in (D_MINUS_7, D):
        assertDataFrameEqual(table.where(f"as_of_date = DATE'{day}'"), before[day])
    assertDataFrameEqual(catalog.read("features.rfm_boundaries"), boundaries_before)
    assert table.count() == len(before[D_MINUS_7]) + len(before[D])


def test_missing_silver_input_fails_before_any_write(spark, config):
    catalog = Catalog(spark, config)
    catalog.append("silver.users", scenario().frame(spark, config, "users"))
    with pytest.raises(InputError, match="silver inputs missing: silver.orders .*silver.events .*level_changes"):
        job.run(_context(config, catalog, ["--as-of", str(D)]))
    assert not catalog.exists("features.user_features")


def test_snapshot_dates_and_their_validation():
    day = dt.date(2026, 1, 1)
    assert date_range(day, None, None) == [day]
    assert date_range(None, day, dt.date(2026, 1, 20), "7d") == [day, dt.date(2026, 1, 8), dt.date(2026, 1, 15)]
    assert date_range(None, day, day, "1d") == [day]
    for args, message in [
        ((day, day, None), "not both"),
        ((None, day, None), "both --from D1 and --to D2"),
        ((None, dt.date(2026, 2, 1), day), "is after"),
        ((None, day, dt.date(2026, 2, 1), "week"), "positive number of days"),
        ((None, day, dt.date(2026, 2, 1), "0d"), "positive number of days"),
    ]:
        with pytest.raises(InputError, match=message):
            date_range(*args)


def test_dates_are_parsed_strictly():
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    assert parser.parse_args(["--as-of", "2026-03-01"]).as_of == D
    with pytest.raises(SystemExit):
        parser.parse_args(["--as-of", "2026-13-01"])


def _silver_catalog(spark, config):
    catalog = Catalog(spark, config)
    silver = scenario()
    for name, table in silver.TABLES.items():
        catalog.append(table, silver.frame(spark, config, name))
    return catalog


def test_a_date_before_any_data_exits_2_and_creates_no_table(spark, config, tmp_path, capsys):
    from userscore.cli import main

    catalog = _silver_catalog(spark, config)
    capsys.readouterr()
    sets = ["--set", f"catalog.root={tmp_path}/warehouse", "--set", "spark.master=local[2]"]
    assert main(["features", "--as-of", "2000-01-01", *sets]) == 2
    assert capsys.readouterr().out == (
        "userscore features: error: no users registered before 2000-01-01 in silver.users (earliest registered_at "
        "2023-05-05 00:00:00); no orders before 2000-01-01 in silver.orders (earliest order_ts 2024-03-01 00:00:00): "
        "nothing written (--allow-empty writes such snapshots)\n"
    )
    assert not catalog.exists("features.user_features") and not catalog.exists("features.rfm_boundaries")
    assert not (tmp_path / "warehouse" / "features").exists()


def test_every_date_of_a_range_is_checked_before_the_first_write(spark, config):
    catalog = _silver_catalog(spark, config)
    # u7 registered 2023-05-05, the first order is 2024-03-01 00:00: 2024-02-01 has users but no orders,
    # 2024-03-02 has both and is not written either.
    with pytest.raises(InputError) as failure:
        job.run(_context(config, catalog, ["--from", "2024-02-01", "--to", "2024-03-02", "--every", "30d"]))
    assert str(failure.value) == (
        "no orders before 2024-02-01 in silver.orders (earliest order_ts 2024-03-01 00:00:00): "
        "nothing written (--allow-empty writes such snapshots)"
    )
    with pytest.raises(InputError) as failure:
        job.run(_context(config, catalog, ["--from", "2000-01-01", "--to", "2000-01-29", "--every", "7d"]))
    assert str(failure.value).startswith(
        "no users registered before 2000-01-01, 2000-01-08, 2000-01-15 and 2 more dates in silver.users "
        "(earliest registered_at 2023-05-05 00:00:00); no orders before 2000-01-01, 2000-01-08, 2000-01-15 and 2 "
        "more dates in silver.orders"
    )
    assert not catalog.exists("features.user_features") and not catalog.exists("features.rfm_boundaries")


def test_allow_empty_writes_the_empty_snapshot_explicitly_asked_for(spark, config):
    catalog = _silver_catalog(spark, config)
    lines = job.run(_context(config, catalog, ["--as-of", "2000-01-01", "--allow-empty"]))
    assert lines[0].startswith("2000-01-01: 0 users in ")
    assert catalog.read("features.user_features").count() == 0
    assert {r["as_of_date"] for r in catalog.read("features.rfm_boundaries").collect()} == {dt.date(2000, 1, 1)}
