"""Rows keyed by person (identity.resolve) in the look-up snapshot: any of a person's user ids finds the
person's document, which lists them, and the person's segments."""

from __future__ import annotations

from pyspark.sql import types as T

from tests.conftest import make_config
from tests.serving import world
from userscore.catalog import Catalog
from userscore.config import deep_merge
from userscore.serving.build import build_snapshot
from userscore.serving.store import Snapshot

PERSON = {**world._user("p-a", 0.81, "high", 72.5, "B", "mid"), "member_user_ids": ["u-a1", "u-a2"]}
ALONE = {**world._user("u-b", 0.2, "low", 85.0, "A", "top"), "member_user_ids": ["u-b"]}


def test_every_member_id_finds_the_person_document_and_segments(spark, tmp_path):
    root = tmp_path / "serving"
    overrides = {"serving": {"snapshot": {"root": str(root), "shards": 3}}}
    catalog = Catalog(spark, make_config(tmp_path, deep_merge(overrides, world.CONFIG_OVERRIDES)))
    config = catalog.config
    schema = world.wide_schema(config).add("member_user_ids", T.ArrayType(T.StringType()))
    rows = [tuple(r.get(f.name) for f in schema.fields) for r in (PERSON, ALONE)]
    catalog.ensure(config.scoring.wide_table, schema)
    catalog.merge(config.scoring.wide_table, spark.createDataFrame(rows, schema))
    member = ("retention", "high_risk", "p-a", "exclusive win-back coupon", "private domain", 2, False)
    segments = spark.createDataFrame(
        [(world.D, *member, world.SCORED_AT)], catalog.spec(config.segments.table).column_names
    )
    catalog.overwrite_where(config.segments.table, segments, {"as_of_date": world.D})

    outcome = build_snapshot(catalog, config)
    assert outcome.manifest["rows"]["users"] == 4  # look-up ids: p-a, u-a1, u-a2, u-b

    snapshot = Snapshot(root, outcome.snapshot_id)
    try:
        expected = world.expected_document(PERSON, config, restricted=False)
        expected = {"user_id": "p-a", "member_user_ids": ["u-a1", "u-a2"], **expected}
        segment = {"family": "retention", "segment": "high_risk", "strategy": "exclusive win-back coupon",
                   "channel": "private domain", "priority": 2, "is_control": False}  # fmt: skip
        for key in ("p-a", "u-a1", "u-a2"):
            found = snapshot.user(key)
            assert list(found.doc) == list(expected) and found.doc == expected
            assert found.segments == [segment]
        assert snapshot.user("u-b").doc["member_user_ids"] == ["u-b"] and snapshot.user("u-b").segments == []
        assert snapshot.user("u-a3") is None
    finally:
        snapshot.close()
