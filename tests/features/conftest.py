"""Fixtures of the feature tests: a config with a private warehouse and the scenario's snapshot."""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from tests.conftest import REPO, WITHOUT_SOCIAL_FAMILY, make_config
from tests.features.silver import D, scenario
from userscore.catalog import Catalog
from userscore.config import Config, deep_merge
from userscore.features import snapshot
from userscore.jobs import features as job
from userscore.runner import JobContext

SPEC = Path(__file__).with_name("features.yaml")


def spec_config(tmp_path: Path, overrides: dict | None = None) -> Config:
    """The project's config with the tests' own feature definitions (``features.yaml`` here, what
    reference.py computes) in place of conf/base/features.yaml: no social family, so no tags over it."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    shutil.copyfile(SPEC, conf / "base" / "features.yaml")
    return make_config(tmp_path, deep_merge(WITHOUT_SOCIAL_FAMILY, overrides or {}), conf_dir=conf)


@pytest.fixture(scope="module")
def features_config(tmp_path_factory) -> Config:
    return spec_config(tmp_path_factory.mktemp("features"))


@pytest.fixture
def config(tmp_path) -> Config:
    return spec_config(tmp_path)


def compute(spark, config: Config, silver, as_of=D) -> tuple[DataFrame, DataFrame]:
    """The snapshot's features and boundaries, materialised (so the persisted frame can be released)."""
    with snapshot(silver.sources(spark, config), as_of, config.features) as snap:
        features = spark.createDataFrame(snap.features.collect(), snap.features.schema)
        boundaries = spark.createDataFrame(snap.boundaries.collect(), snap.boundaries.schema)
    return features, boundaries


@pytest.fixture(scope="module")
def scenario_snapshot(spark, features_config) -> tuple[DataFrame, DataFrame]:
    return compute(spark, features_config, scenario())


def scenario_job(spark, config: Config) -> tuple[Catalog, Callable[[Sequence[str]], Sequence[str]]]:
    """The scenario's silver tables written to ``config``'s warehouse, and the features job's ``run`` over them
    (argv as on the command line)."""
    catalog = Catalog(spark, config)
    silver = scenario()
    for name, table in silver.TABLES.items():
        catalog.append(table, silver.frame(spark, config, name))
    parser = argparse.ArgumentParser()
    job.add_arguments(parser)

    def run(argv: Sequence[str]) -> Sequence[str]:
        return job.run(
            JobContext("features", config, parser.parse_args(argv), logging.getLogger("t"), _catalog=catalog)
        )

    return catalog, run
