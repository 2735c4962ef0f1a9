"""A wide table created before Change Data Feed was declared: the next write switches the feed on, and the
snapshot serves changes from that commit, never earlier ones it cannot read."""

from __future__ import annotations

import sqlite3

from tests.conftest import make_config
from tests.serving import world
from userscore.catalog import Catalog
from userscore.serving.build import build_snapshot


def test_an_old_wide_table_gets_the_feed_and_changes_start_there(spark, tmp_path):
    config = make_config(tmp_path, {"serving": {"snapshot": {"shards": 2}}})
    catalog = Catalog(spark, config)
    wide = config.scoring.wide_table
    # Version 0: written without the declared properties, as a table from before the feed was declared.
    world.wide_frame(catalog, world.V1).write.format("delta").save(catalog.location(wide))
    assert "delta.enableChangeDataFeed" not in catalog.properties(wide)
    assert catalog.change_feed_start(wide) is None
    # Version 1 sets the missing property, version 2 is the MERGE (u-2 updated, u-4 inserted).
    catalog.merge(wide, world.wide_frame(catalog, world.V2), ignore_changes=("as_of_date", "scored_at"))
    assert catalog.properties(wide)["delta.enableChangeDataFeed"] == "true"
    assert catalog.change_feed_start(wide) == 1

    members = spark.createDataFrame(
        [(world.D, *m, world.SCORED_AT) for m in world.MEMBERS], catalog.spec(config.segments.table).column_names
    )
    catalog.overwrite_where(config.segments.table, members, {"as_of_date": world.D})
    manifest = build_snapshot(catalog, config).manifest
    assert manifest["changes"] == {"available": True, "from_version": 1, "to_version": 2}
    assert manifest["rows"] == {"users": 4, "segment_members": 4, "changes": 2}
    folder = tmp_path / "warehouse" / "serving" / "versions" / manifest["snapshot"]
    changes = set()
    for shard in range(2):
        with sqlite3.connect(folder / f"shard-{shard:05d}.sqlite") as db:
            changes |= set(db.execute("SELECT commit_version, user_id, change_type FROM changes"))
    assert changes == {(2, "u-2", "upsert"), (2, "u-4", "upsert")}
