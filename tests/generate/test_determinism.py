"""Same seed and config -> the same rows, whatever the partitioning; another seed -> other data."""

from __future__ import annotations

import dataclasses

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from userscore import landing
from userscore.catalog import Catalog
from userscore.generate import SOURCE_FORMATS, generate_user_base


def test_regenerating_with_other_partitioning_gives_exactly_the_landed_rows(spark, landed):
    cfg = landed.config.generate
    # The landed batch came from 2 partitions (50,000 users per partition, 2 cores); this one from 10.
    regenerated = generate_user_base(spark, dataclasses.replace(cfg, users_per_partition=100))
    users_frame = regenerated.shared[0]
    assert users_frame.rdd.getNumPartitions() == 10
    # Identity links keep the partitioning of the users they come from: one file per partition.
    landed_links = landing.batch_path(landed.raw_dir, "identity_links", cfg.batch_id)
    assert len(list(landed_links.glob("part-*.parquet"))) == 2
    with regenerated.cached():
        for source, file_format in SOURCE_FORMATS.items():
            path = landing.batch_path(landed.raw_dir, source, cfg.batch_id)
            if file_format == "json":
                # Compare bytes: some lines hold invalid UTF-8 on purpose.
                got = regenerated.raw[source].select(F.col("value").cast("binary").alias("line"))
                expected = landing.read_text_lines(spark, path).select(F.col("value").cast("binary").alias("line"))
            else:
                got = regenerated.raw[source].drop("bad_kind")
                expected = landing.read_parquet(spark, path)
            assertDataFrameEqual(got, expected)
        # The late refunds too.
        late = landing.batch_path(landed.raw_dir, "orders", f"{cfg.batch_id}-late")
        assertDataFrameEqual(regenerated.late["orders"].drop("bad_kind"), landing.read_text_lines(spark, late))
        catalog = Catalog(spark, landed.config)
        truth = catalog.read("truth.user_traits")
        assertDataFrameEqual(regenerated.traits, truth.select(*regenerated.traits.columns))
        effects = catalog.read("truth.campaign_effects")
        assertDataFrameEqual(regenerated.campaign_effects, effects.select(*regenerated.campaign_effects.columns))
