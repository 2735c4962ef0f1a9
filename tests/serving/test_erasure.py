"""Erasing a user takes them out of the look-up API's snapshot at once: the forget job rebuilds the
published snapshot from the tables it has just cleaned and deletes the older folders, which still hold the
user; when nothing is left to rebuild from, the snapshot is withdrawn. Read straight from the SQLite files."""

from __future__ import annotations

import argparse
import logging
import sqlite3

from tests.conftest import make_config
from tests.serving import world
from userscore.catalog import Catalog
from userscore.config import deep_merge
from userscore.jobs import forget as forget_job
from userscore.runner import JobContext
from userscore.serving import layout
from userscore.serving.build import build_snapshot


def _forget(catalog, tmp_path, user_ids: list[str], request_id: str) -> list[str]:
    requests = tmp_path / f"{request_id}.csv"
    requests.write_text("request_id,user_id\n" + "".join(f"{request_id},{u}\n" for u in user_ids))
    parser = argparse.ArgumentParser()
    forget_job.add_arguments(parser)
    args = parser.parse_args(["--request-file", str(requests)])
    ctx = JobContext(name="test", config=catalog.config, args=args, logger=logging.getLogger("test"), _catalog=catalog)
    return list(forget_job.run(ctx))


def _served(root) -> dict[str, set[str]]:
    """user ids per table over every shard of the published snapshot."""
    folder = layout.versions_dir(root) / layout.current_id(root)
    found: dict[str, set[str]] = {"users": set(), "segment_members": set(), "changes": set()}
    for shard in sorted(folder.glob("shard-*.sqlite")):
        with sqlite3.connect(shard) as db:
            for table, ids in found.items():
                ids.update(r[0] for r in db.execute(f"SELECT user_id FROM {table}"))  # noqa: S608 (fixed names)
    return found


def test_forget_rebuilds_the_snapshot_without_the_erased_user_and_deletes_the_old_ones(spark, tmp_path):
    root = tmp_path / "serving"
    overrides = {"serving": {"snapshot": {"root": str(root), "shards": 2, "changes_versions": 10}}}
    catalog = Catalog(spark, make_config(tmp_path, deep_merge(overrides, world.CONFIG_OVERRIDES)))
    world.write_world(catalog)
    before = build_snapshot(catalog, catalog.config).snapshot_id
    # write_world: u-1, u-2, u-4 remain (u-3 was erased at version 3); u-1 and u-2 are segment members.
    assert _served(root)["users"] == {"u-1", "u-2", "u-4"}

    lines = _forget(catalog, tmp_path, ["u-1"], "r-1")

    after = layout.current_id(root)
    assert after != before
    assert sorted(p.name for p in layout.versions_dir(root).iterdir()) == [after]  # no grace for the old one
    served = _served(root)
    assert served["users"] == {"u-2", "u-4"}
    assert served["segment_members"] == {"u-2", "u-4"}
    # conf/local purges with a 0-hour VACUUM, which deletes the change files of every earlier commit (the
    # erasure's own delete included): the feed restarts at the VACUUM, and no change after it is left.
    wide = catalog.location(catalog.config.scoring.wide_table)
    vacuums = spark.sql(f"DESCRIBE HISTORY delta.`{wide}`").where("operation = 'VACUUM START'").agg({"version": "max"})
    manifest = layout.read_manifest(root, after)
    assert manifest["changes"]["from_version"] == vacuums.first()[0]
    assert served["changes"] == set()
    assert f"look-up snapshot rebuilt without the erased users: {after}; older ones deleted: {before}" in lines

    # Erasing everyone left: no row of the segments' date remains, so the snapshot is withdrawn.
    lines = _forget(catalog, tmp_path, ["u-2", "u-4"], "r-2")
    assert not (root / layout.POINTER).exists() and not any(layout.versions_dir(root).iterdir())
    assert any(line.startswith(f"look-up snapshot withdrawn ({after}): ") for line in lines)
