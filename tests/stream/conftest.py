"""A small generated world, ingested and published in batch, for the streaming rescoring tests.

The generator's history ends 2026-11-01. Batch ingest takes both landed batches; the social job measures D (no edges here) and the features job writes
snapshot D = 2026-11-01 (and publishes its population figures) and the score job scores it with the tiny
champions of tests/scoring/conftest.py. The stream tests then land their own batches on top.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.conftest import make_config
from tests.generate.conftest import run_generate
from tests.scoring.conftest import tracking_overrides
from userscore.catalog import Catalog
from userscore.config import Config, deep_merge
from userscore.generate.live import EVENT_SCHEMA, json_lines, land_folder
from userscore.ingest import ingest, plan_ingest
from userscore.jobs import features as features_job
from userscore.jobs import social as social_job
from userscore.logs import get_logger
from userscore.runner import JobContext
from userscore.scoring.pipeline import score_snapshot

USERS = 150
D = dt.date(2026, 11, 1)
NOW = dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.UTC)
SCORED_AT = dt.datetime(2026, 11, 1, 6, 0)


@dataclass
class World:
    config: Config
    catalog: Catalog
    root: Path
    raw_dir: Path
    sets: list[str]  # the CLI's --set options for the same config (a subprocess job)


def run_job(module, config: Config, catalog: Catalog, **args: Any) -> list[str]:
    """A job's ``run`` in the test session, as the CLI calls it after parsing ``args``."""
    ctx = JobContext(name=module.__name__, config=config, args=argparse.Namespace(**args), logger=get_logger("t"))
    ctx._catalog = catalog
    return list(module.run(ctx))


@pytest.fixture(scope="package")
def world(spark, tmp_path_factory, champion_store) -> World:
    store_dir, _, _ = champion_store
    root = tmp_path_factory.mktemp("stream")
    overrides = deep_merge(
        tracking_overrides(store_dir),
        {
            "generate": {"users": USERS, "batch_id": "b-test"},
            # Sources nothing here reads: not ingesting them saves a quarter of the set-up.
            "ingest": {"absent_sources": ["social_edges", "identity_links"]},
            "stream": {"checkpoint": str(root / "checkpoint"), "snapshot_refresh_minutes": None},
        },
    )
    config = make_config(root, overrides)
    catalog = Catalog(spark, config)
    run_generate(spark, config)
    raw_dir = Path(config.ingest.raw_dir)
    plan = plan_ingest(catalog, config.ingest, raw_dir)
    ingest(catalog, config.ingest, raw_dir, plan, now=NOW, run_id="batch")
    run_job(social_job, config, catalog, as_of=D, start=None, end=None, every="7d")
    run_job(features_job, config, catalog, as_of=D, start=None, end=None, every="7d", allow_empty=False)
    score_snapshot(catalog, config, D, SCORED_AT)
    sets = [
        "--set", f"catalog.root={root}/warehouse",
        "--set", f"ingest.raw_dir={raw_dir}",
        "--set", f"models.tracking.uri=sqlite:///{store_dir}/mlflow.db",
        "--set", f"models.tracking.artifact_root={store_dir}/mlruns",
        "--set", f"models.tracking.dfs_tmpdir={store_dir}/dfs",
        "--set", f"stream.checkpoint={root}/checkpoint",
        "--set", "stream.snapshot_refresh_minutes=null",
        "--set", "spark.master=local[2]",
    ]  # fmt: skip
    return World(config, catalog, root, raw_dir, sets)


def land_orders(raw_dir: Path, batch_id: str, records: list[dict | str]) -> None:
    """A JSON-lines orders batch, landed whole (userscore.generate.live's landing)."""
    land_folder(raw_dir / "orders", batch_id, "part-00000.json", json_lines(records))


def land_events(raw_dir: Path, batch_id: str, records: list[dict]) -> None:
    """A Parquet events batch, landed whole."""
    land_folder(raw_dir / "events", batch_id, "part-00000.parquet", pa.Table.from_pylist(records, schema=EVENT_SCHEMA))


def order(order_id: str, user_id: str, at: str, amount: float, **extra: Any) -> dict:
    """A raw order as the landing contract has it (conf/base/ingest.yaml)."""
    return {
        "order_id": order_id,
        "user_id": user_id,
        "order_ts": at,
        "amount": amount,
        "category": "books",
        "channel": "app",
        "coupon_used": False,
        "discount_amount": 0.0,
        "is_refunded": False,
        "item_count": 1,
        **extra,
    }
