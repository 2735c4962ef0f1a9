"""Parity: the streaming path's row for a user is the batch `features` + `score` row, column for column.

Every user of the generated world is rescored through userscore.stream.rescore at the batch snapshot's date
with the figures that snapshot published; the rows must equal scores.user_scores of that date, which the
batch jobs computed over the whole population.
"""

from __future__ import annotations

import math

from pyspark.sql import functions as F

from tests.stream.conftest import SCORED_AT, USERS, D
from userscore.features.population import latest_published
from userscore.stream.rescore import load_scorer, rescore


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_rescoring_every_user_gives_the_batch_rows_column_for_column(spark, world):
    catalog, config = world.catalog, world.config
    published = latest_published(catalog, config.features, D)
    assert published.as_of == D
    wide_before = catalog.version(config.scoring.wide_table)

    outcome = rescore(
        catalog, config, catalog.read("silver.users").select("user_id"), D, SCORED_AT, load_scorer(config), published
    )

    batch = {
        r["user_id"]: r.asDict() for r in catalog.read("scores.user_scores", where=F.col("as_of_date") == D).collect()
    }
    live = {r["user_id"]: r.asDict() for r in catalog.read(config.stream.live_table).collect()}
    assert outcome.rows == len(batch) == len(live) == USERS
    columns = list(next(iter(batch.values())))
    assert columns == list(next(iter(live.values())))
    differing = sorted(
        (user, c, batch[user][c], live[user][c])
        for user in batch
        for c in columns
        if not _same(batch[user][c], live[user][c])
    )
    assert differing == []
    # The rows carry real, varied scores (the comparison is not of empty columns).
    for column in ("rfm_score", "churn_probability", "repurchase_probability", "coupon_winback_uplift", "value_score"):
        assert len({row[column] for row in batch.values()}) >= 5, column
    # And the wide table's MERGE found nothing to change: its change feed has no row after the batch's.
    changes = catalog.read_changes(
        config.scoring.wide_table, wide_before + 1, catalog.version(config.scoring.wide_table)
    )
    assert changes.count() == 0
