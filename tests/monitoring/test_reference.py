"""The training reference when the validation snapshot was not scored by the champion: the features
partition V is scored now by the registered version (a SQLTransformer whose prediction is f1 / 20, so the
expected probabilities are known by hand: p_i = 0.05 i for f1 = i)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from tests.conftest import make_config
from tests.monitoring.world import JAN, USERS
from userscore.catalog import Catalog
from userscore.monitoring.models import Registry
from userscore.monitoring.psi import Binning
from userscore.monitoring.reference import build_reference, load_reference, reference_frame


def _register_sql_model(spark, tmp) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import SQLTransformer

    uri = f"sqlite:///{tmp}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("userscore", artifact_location=(tmp / "mlruns").as_uri())
    model = PipelineModel(stages=[SQLTransformer(statement="SELECT *, f1 / 20.0 AS prediction FROM __THIS__")])
    with mlflow.start_run(experiment_id=experiment, tags={"validation_snapshot": JAN.isoformat()}):
        mlflow.log_param("features.numeric", json.dumps(["f1"]))
        mlflow.log_metric("auc", 0.8)
        info = mlflow.spark.log_model(
            model,
            artifact_path="model",
            registered_model_name="userscore-repurchase_30d",
            dfs_tmpdir=str(tmp / "dfs"),
            pip_requirements=["pyspark"],
        )
    client.set_registered_model_alias("userscore-repurchase_30d", "champion", str(info.registered_model_version))


@pytest.fixture(scope="module")
def rescored(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    tracking = {
        "uri": f"sqlite:///{tmp}/mlflow.db",
        "artifact_root": str(tmp / "mlruns"),
        "dfs_tmpdir": str(tmp / "dfs"),
    }
    config = make_config(tmp, {"models": {"tracking": tracking}, "monitor": {"psi": {"quantile_relative_error": 0}}})
    catalog = Catalog(spark, config)
    rows = [(u, JAN, float(i)) for i, u in enumerate(USERS, 1)]
    features = spark.createDataFrame(rows, "user_id string, as_of_date date, f1 double")
    catalog.overwrite_where("features.user_features", features, {"as_of_date": JAN})
    _register_sql_model(spark, tmp)
    registry = Registry(config)
    info = registry.champion("repurchase_30d")
    output = config.scoring.targets["repurchase_30d"]
    ref = build_reference(
        catalog,
        config.monitor,
        info,
        output,
        registry,
        logging.getLogger("test"),
    )
    return catalog, config, info, ref


def test_the_champion_rescoring_its_validation_snapshot_is_the_reference(rescored):
    _, _, info, ref = rescored
    assert (info.version, info.validation_date, info.numeric_features, info.training_auc) == ("1", JAN, ("f1",), 0.8)
    assert (ref.source, ref.date, ref.score) == ("rescored", JAN, "repurchase_probability")
    # p = 0.05 .. 1.00: mean 0.525; tiers high (p > 0.6) 8, mid (>= 0.25) 8, low 4
    assert ref.cells[("stat", "mean")] == pytest.approx(0.525)
    assert [ref.cells[("band", t)] for t in ("high", "mid", "low")] == [pytest.approx(0.4), 0.4, 0.2]
    # deciles of p and of f1: two users per bin
    assert ref.binnings["repurchase_probability"].edges == pytest.approx([0.1 * k for k in range(1, 10)])
    assert ref.counts["repurchase_probability"] == {str(k): 2 for k in range(10)}
    assert ref.binnings["f1"].edges == tuple(float(2 * k) for k in range(1, 10))
    assert ref.counts["f1"] == {str(k): 2 for k in range(10)}


def test_stored_reference_reads_back_identically(rescored):
    catalog, config, info, ref = rescored
    # Edges with no short decimal form, as quantiles of ratios are (4/9 is 0.4444444444444444): a value
    # equal to an edge is in the bin below it, so the edges must come back bit for bit.
    ref = replace(ref, binnings={**ref.binnings, "f1": Binning("f1", (1 / 3, 4 / 9, 2.0))},
                  counts={**ref.counts, "f1": {"0": 3, "1": 1, "2": 2, "3": 14}})  # fmt: skip
    table = config.monitor.tables.reference
    catalog.overwrite_where(table, reference_frame(catalog, table, ref), {"target": "repurchase_30d"})
    back = load_reference(catalog, table, "repurchase_30d", info.version, "repurchase_probability")
    assert (back.source, back.date, dict(back.counts)) == (ref.source, ref.date, dict(ref.counts))
    assert {c: b.edges for c, b in back.binnings.items()} == {c: b.edges for c, b in ref.binnings.items()}
    assert back.binnings["f1"].edges == (1 / 3, 4 / 9, 2.0)
    assert dict(back.cells) == pytest.approx(dict(ref.cells))
