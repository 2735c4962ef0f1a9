"""Keyed by person (identity.resolve) from ingested generated data to the live rescoring: the batch features and scores
hold one row per person of the identity run, listing its user ids; rescoring any member's user id gives the
person's batch row, column for column."""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tests.conftest import make_config
from tests.scoring.conftest import tracking_overrides
from tests.stream.conftest import SCORED_AT, D, run_job
from userscore.catalog import Catalog
from userscore.config import deep_merge
from userscore.features.population import latest_published
from userscore.jobs import features as features_job
from userscore.jobs import identity as identity_job
from userscore.scoring.pipeline import score_snapshot
from userscore.stream.rescore import load_scorer, rescore


@pytest.fixture(scope="module")
def resolved(spark, tmp_path_factory, world, champion_store):
    """The stream tests' world (generated and ingested; identity links absent, so people are stitched by the
    phone and e-mail their accounts share) in a warehouse of its own: identity, then features and scores keyed
    by person at D."""
    store_dir, _, _ = champion_store
    root = tmp_path_factory.mktemp("persons")
    shutil.copytree(Path(world.config.catalog.root) / "silver", root / "warehouse" / "silver")
    shutil.copytree(Path(world.config.catalog.root) / "social", root / "warehouse" / "social")
    overrides = {
        "ingest": {"absent_sources": ["social_edges", "identity_links"]},
        "identity": {"resolve": True},
        "stream": {"checkpoint": str(root / "checkpoint"), "snapshot_refresh_minutes": None},
    }
    config = make_config(root, deep_merge(tracking_overrides(store_dir), overrides))
    catalog = Catalog(spark, config)
    run_job(identity_job, config, catalog, as_of=D)
    run_job(features_job, config, catalog, as_of=D, start=None, end=None, every="7d", allow_empty=False)
    score_snapshot(catalog, config, D, SCORED_AT)
    return catalog, config


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_scores_are_one_row_per_person_and_any_member_rescores_it(spark, resolved):
    catalog, config = resolved
    members = defaultdict(list)
    for r in catalog.read("identity.person_map").collect():
        members[r["person_id"]].append(r["user_id"])
    several = sorted(p for p, ids in members.items() if len(ids) > 1)
    assert len(several) >= 5  # the generated world has people with several user ids

    batch = {r["user_id"]: r.asDict() for r in catalog.read("scores.user_scores").collect()}
    assert {p: row["member_user_ids"] for p, row in batch.items()} == {p: sorted(ids) for p, ids in members.items()}
    wide = catalog.read(config.scoring.wide_table).select("user_id", "member_user_ids").collect()
    assert {r["user_id"]: r["member_user_ids"] for r in wide} == {p: sorted(ids) for p, ids in members.items()}

    # Rescore the second member of three people with several ids and one person alone, by user id.
    alone = next(p for p, ids in sorted(members.items()) if len(ids) == 1)
    chosen = [members[p][1] for p in several[:3]] + [members[alone][0]]
    users = spark.createDataFrame([(u,) for u in chosen], "user_id string")
    published = latest_published(catalog, config.features, D)
    outcome = rescore(catalog, config, users, D, SCORED_AT, load_scorer(config), published)
    live = {r["user_id"]: r.asDict() for r in catalog.read(config.stream.live_table).collect()}
    assert outcome.rows == 4 and sorted(live) == sorted([*several[:3], alone])
    differing = [(p, c) for p in live for c in batch[p] if not _same(batch[p][c], live[p][c])]
    assert differing == []
    assert len({live[p]["churn_probability"] for p in live}) > 1
    assert catalog.read(config.scoring.wide_table).where(F.col("user_id").isin(chosen)).count() == 0
