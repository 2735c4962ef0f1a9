"""The features job with events and level changes declared absent (ingest.absent_sources): one log line names
what is left at defaults, the absent tables need not exist and their rows are ignored if they do, and every
feature equals the plain-Python reference computed without those rows."""

from __future__ import annotations

import argparse
import logging

from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from tests.features.reference import reference
from tests.features.silver import D, Silver, scenario
from tests.orders_only import orders_only
from userscore.catalog import Catalog
from userscore.jobs import features as job
from userscore.runner import JobContext


def test_families_over_absent_sources_keep_defaults_and_the_rest_is_computed(spark, tmp_path, caplog):
    config = make_config(tmp_path, orders_only())
    catalog = Catalog(spark, config)
    silver = scenario()
    # silver.events does not exist at all; silver.level_changes holds rows the job must ignore.
    for name in ("users", "orders", "level_changes"):
        catalog.append(silver.TABLES[name], silver.frame(spark, config, name))
    assert silver.events and silver.level_changes  # the scenario has rows of both, so ignoring them shows

    parser = argparse.ArgumentParser()
    job.add_arguments(parser)
    logger = logging.getLogger("test.features.absent")
    ctx = JobContext("features", config, parser.parse_args(["--as-of", str(D)]), logger, _catalog=catalog)
    with caplog.at_level(logging.INFO, logger=logger.name):
        lines = job.run(ctx)

    logged = [r.getMessage() for r in caplog.records if "ingest.absent_sources" in r.getMessage()]
    assert len(logged) == 1 and lines[0] == logged[0]
    assert logged[0].startswith(
        "absent sources (ingest.absent_sources) read as empty, their features at no-activity defaults: "
        "events (silver.events): behaviour (all "
    )
    assert logged[0].endswith("; level_changes (silver.level_changes): profile (member_level as of D)")

    actual = catalog.read("features.user_features")
    without = Silver(users=silver.users, orders=silver.orders)
    doubles = {f.name for f in actual.schema.fields if isinstance(f.dataType, T.DoubleType)}
    rows = [
        Row(**{c: float(r[c]) if c in doubles and r[c] is not None else r[c] for c in actual.columns})
        # The scenario's five buyers do not identify BG/NBD: its model columns are null (test_customer_base.py).
        for r in reference(without, D, horizons=config.features.customer_base.horizons_days)
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(rows, actual.schema), rtol=1e-9)
    # By hand: u1 (platinum in silver.users, level changes around D ignored) logged in before D in the
    # scenario, but without events every activity count is 0.
    u1 = actual.where("user_id = 'u1'").first()
    assert (u1.member_level, u1.logins_30d, u1.page_views_90d) == ("platinum", 0, 0)
