"""Fixtures of the feature tests: a config with a private warehouse and the scenario's snapshot."""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame

from tests.conftest import make_config
from tests.features.silver import D, scenario
from userscore.config import Config
from userscore.features import snapshot


@pytest.fixture(scope="module")
def features_config(tmp_path_factory) -> Config:
    return make_config(tmp_path_factory.mktemp("features"))


def compute(spark, config: Config, silver, as_of=D) -> tuple[DataFrame, DataFrame]:
    """The snapshot's features and boundaries, materialised (so the persisted frame can be released)."""
    with snapshot(silver.sources(spark, config), as_of, config.features) as snap:
        features = spark.createDataFrame(snap.features.collect(), snap.features.schema)
        boundaries = spark.createDataFrame(snap.boundaries.collect(), snap.boundaries.schema)
    return features, boundaries


@pytest.fixture(scope="module")
def scenario_snapshot(spark, features_config) -> tuple[DataFrame, DataFrame]:
    return compute(spark, features_config, scenario())
