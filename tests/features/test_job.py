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
from userscore.runner import JobContext

D_MINUS_7 = D - dt.timedelta(days=7)


def _context(config, catalog, argv):
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    args = parser.parse_args(argv)
    return JobContext(name="features", config=config, args=args, logger=logging.getLogger("test"), _catalog=catalog)


def _expected(spark, actual, rows):
    doubles = {f.name for f in actual.schema.fields if isinstance(f.dataType, T.DoubleType)}
    typed = [Row(**{c: float(r[c]) if c in doubles else r[c] for c in actual.columns}) for r in rows]
    return spark.createDataFrame(typed, actual.schema)


def test_backfill_then_rerun_replaces_exactly_one_partition(spark, config):
    catalog = Catalog(spark, config)
    silver = scenario()
    for name, table in silver.TABLES.items():
        catalog.append(table, silver.frame(spark, config, name))

    lines = job.run(_context(config, catalog, ["--from", str(D_MINUS_7), "--to", str(D), "--every", "7d"]))
    assert [line.split(":")[0] for line in lines] == [str(D_MINUS_7), str(D)]
    assert lines[1].startswith(f"{D}: 7 users in ") and "Lost 2" in lines[1] and "Champions 1" in lines[1]

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
    assert job.snapshot_dates(day, None, None) == [day]
    assert job.snapshot_dates(None, day, dt.date(2026, 1, 20), "7d") == [day, dt.date(2026, 1, 8), dt.date(2026, 1, 15)]
    assert job.snapshot_dates(None, day, day, "1d") == [day]
    for args, message in [
        ((day, day, None), "not both"),
        ((None, day, None), "both --from D1 and --to D2"),
        ((None, dt.date(2026, 2, 1), day), "is after"),
        ((None, day, dt.date(2026, 2, 1), "week"), "positive number of days"),
        ((None, day, dt.date(2026, 2, 1), "0d"), "positive number of days"),
    ]:
        with pytest.raises(InputError, match=message):
            job.snapshot_dates(*args)


def test_dates_are_parsed_strictly():
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    assert parser.parse_args(["--as-of", "2026-03-01"]).as_of == D
    with pytest.raises(SystemExit):
        parser.parse_args(["--as-of", "2026-13-01"])
