"""Shared test fixtures: one SparkSession (built by the project's own factory) for the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from userscore.catalog import Catalog
from userscore.config import Config, deep_merge, load_config
from userscore.session import get_spark

REPO = Path(__file__).resolve().parents[1]
TEST_PII_KEY = "test-only-pii-key"

# Few partitions: test data is tiny, and every shuffle partition costs a task on 2 cores. Adaptive execution
# on, as in conf/base: at run time it turns joins with a small side (most of them, on test data) into broadcast
# joins; measured on tests/features + tests/scoring, 398 s against 425 s with it off. The parallel garbage
# collector: G1's concurrent marking took about 8% of a test worker JVM's CPU in a `make test` run; tests/scoring
# alone ran in 261 s and 385 CPU-seconds with ParallelGC against 268 s and 403 with G1 (raising the C2 compile
# thresholds instead made it 302 s: the JIT stays as it is).
TEST_SPARK = {
    "spark": {
        "master": "local[2]",
        "conf": {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "4g",
            "spark.sql.adaptive.enabled": "true",
            "spark.databricks.delta.snapshotPartitions": "2",
            "spark.driver.extraJavaOptions": "-XX:+UseParallelGC",
        },
    }
}

# A business without a social network: no social family in the features (so no social run to read before
# them) and no tags over it.
WITHOUT_SOCIAL_FAMILY = {"features": {"social": None}, "tags": {"dictionary": {"kol": None, "community_hub": None}}}

# The same runtime SQL settings for a job run through the CLI (userscore.cli.main), as --set options: its session
# otherwise takes the local config's 8 shuffle partitions and adaptive execution, made for real data.
TEST_SETS = [
    option
    for key in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")
    for option in ("--set", f"spark.conf.\"{key}\"='{TEST_SPARK['spark']['conf'][key]}'")
]


def make_config(tmp_path: Path, overrides: dict | None = None, conf_dir: Path = REPO / "conf") -> Config:
    """The local config (of ``conf_dir``) with a private warehouse and raw folder under ``tmp_path``."""
    base = {
        "catalog": {"root": str(tmp_path / "warehouse")},
        "generate": {"raw_dir": str(tmp_path / "raw")},
        "ingest": {"raw_dir": str(tmp_path / "raw")},
    }
    return load_config(
        env="local", conf_dir=conf_dir, overrides=deep_merge(deep_merge(TEST_SPARK, base), overrides or {})
    )


@pytest.fixture(scope="session")
def spark():
    # Forced, not defaulted: `make test` exports the demo key, and expected hashes in tests use this one.
    os.environ["USERSCORE_PII_KEY"] = TEST_PII_KEY
    config = load_config(env="local", conf_dir=REPO / "conf", overrides=TEST_SPARK)
    session = get_spark(config.spark, REPO)
    yield session
    session.stop()


@pytest.fixture
def config(tmp_path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def catalog(spark, config) -> Catalog:
    return Catalog(spark, config)


@pytest.fixture(scope="session")
def champion_store(spark, tmp_path_factory):
    """Tiny real champions of the three targets in a private MLflow store, shared by the scoring and stream
    tests: (store dir, the feature rows they were trained on, {target: model}); see tests/scoring/conftest.py."""
    from tests.scoring.conftest import make_champion_store

    return make_champion_store(spark, tmp_path_factory.mktemp("mlflow"))


def pytest_collection_modifyitems(items):
    # The longest units first (tests/parallel.py): with workers, the run does not end waiting on one of them.
    from tests.parallel import first_rank

    items.sort(key=lambda item: first_rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    from tests.parallel import workers

    return workers()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from tests.parallel import make_scheduler

    return make_scheduler(config, log)
