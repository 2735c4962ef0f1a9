"""Hand-made feature snapshots and tiny real champions (GBT + calibration; an uplift model: two arm GBTs)
in a private MLflow store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from tests.conftest import make_config
from userscore.config import Config
from userscore.config.columns import social_columns
from userscore.features import feature_columns

D1 = dt.date(2026, 3, 1)
D2 = dt.date(2026, 3, 8)
USERS = 200
STRING_COLUMNS = {
    "member_level": ("basic", "silver", "gold", "platinum"),
    "region": ("north", "south"),
    "registration_channel": ("app", "web"),
    "age_band": ("18-24", "25-34", "35-44"),
    "rfm_segment": ("Champions", "Loyal", "At risk", "About to sleep", "Lost"),
    "top_category": ("books", "beauty", "toys", "none"),
    "category_1": ("books", "beauty"),
    "category_2": ("toys", "none"),
    "category_3": ("none",),
    "preferred_channel": ("app", "web", "store"),
    "interest_1": ("books", "toys", "none"),
    "interest_2": ("beauty", "none"),
    "interest_3": ("none",),
}
INT_COLUMNS = ("r_score", "f_score", "m_score", "fm_score")
BOOL_COLUMNS = ("social_kol", "social_community_hub")
# Model inputs: numeric columns plus member_level (indexed + one-hot, so slots group back to it).
MODEL_NUMERIC = {
    "churn_60d": ("recency_days", "logins_30d", "frequency_90d"),
    "repurchase_30d": ("frequency_90d", "recency_days", "promotion_sensitivity"),
    "vip_promotion_90d": ("monetary_365d", "frequency_90d"),
}
TREES = 4
# The uplift champion (userscore.uplift.model's served form): the trainer's preparation of these inputs.
UPLIFT_TYPE = "coupon_winback"
UPLIFT_NUMERIC = ("promotion_sensitivity", "recency_days", "frequency_90d")
UPLIFT_CATEGORICAL = ("member_level",)
MARGIN = 12.5  # the uplift champion's margin per conversion, logged on its run as training does


def feature_schema(config: Config) -> T.StructType:
    fields = [T.StructField("user_id", T.StringType(), False), T.StructField("as_of_date", T.DateType(), False)]
    for column in feature_columns(config.features):
        if column in STRING_COLUMNS:
            tp = T.StringType()
        elif column in INT_COLUMNS:
            tp = T.IntegerType()
        elif column in BOOL_COLUMNS:
            tp = T.BooleanType()
        else:
            tp = T.DoubleType()
        fields.append(T.StructField(column, tp))
    return T.StructType(fields)


def feature_rows(config: Config, as_of: dt.date, users: int = USERS, seed: int = 3) -> list[dict]:
    """Every feature column for ``users`` users: random but fixed by ``seed``; scores 1-5, shares 0-1."""
    rng = np.random.default_rng(seed)
    # The social family draws from its own generator: the other columns keep the values they had without it.
    social, social_rng = set(social_columns(config.features)), np.random.default_rng(seed + 1)
    rows = []
    for i in range(users):
        row: dict = {"user_id": f"u{i:04d}", "as_of_date": as_of}
        for column in feature_columns(config.features):
            if column in social:
                row[column] = (
                    bool(social_rng.random() < 0.05) if column in BOOL_COLUMNS else float(social_rng.integers(0, 12))
                )
            elif column in STRING_COLUMNS:
                row[column] = str(rng.choice(STRING_COLUMNS[column]))
            elif column in INT_COLUMNS:
                row[column] = int(rng.integers(1, 6))
            elif column in ("rfm_score",):
                row[column] = float(np.round(rng.uniform(1, 5), 2))
            elif column.endswith(("_share", "_score", "_rate", "_sensitivity", "_affinity")):
                row[column] = float(np.round(rng.uniform(0, 1), 3))
            elif column.startswith(("recency", "days_since", "tenure")):
                row[column] = float(rng.integers(0, 400))
            elif column.startswith(("monetary", "total_order", "decayed_monetary", "avg_order", "dwell")):
                row[column] = float(np.round(rng.exponential(800), 2))
            elif column.endswith("_trend"):
                row[column] = float(np.round(rng.uniform(0.2, 3), 2))
            else:
                row[column] = float(rng.integers(0, 12))
        rows.append(row)
    return rows


def features_frame(spark: SparkSession, config: Config, rows: list[dict]) -> DataFrame:
    schema = feature_schema(config)
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def _label(target: str, row: dict, noise: float) -> float:
    if target == "churn_60d":
        return float(row["recency_days"] + 60 * noise > 200)
    if target == "repurchase_30d":
        return float(row["frequency_90d"] + 4 * noise > 6)
    return float(row["monetary_365d"] + 500 * noise > 900 or row["member_level"] == "platinum")


def train_champion(spark: SparkSession, target: str, rows: list[dict], config: Config, calibration: str):
    """A real served pipeline: index + one-hot member_level, assemble, 4-tree GBT, calibration stage."""
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    from userscore.models.calibration import fit_calibrator

    rng = np.random.default_rng(len(target))
    numeric = MODEL_NUMERIC[target]
    data = [(*(r[c] for c in numeric), r["member_level"], _label(target, r, rng.normal())) for r in rows]
    schema = ", ".join([*(f"{c} double" for c in numeric), "member_level string", "label double"])
    train = spark.createDataFrame(data, schema)
    prep = Pipeline(
        stages=[
            StringIndexer(inputCol="member_level", outputCol="_idx_member_level", handleInvalid="keep"),
            OneHotEncoder(inputCol="_idx_member_level", outputCol="_ohe_member_level", handleInvalid="keep"),
            VectorAssembler(inputCols=[*numeric, "_ohe_member_level"], outputCol="features", handleInvalid="keep"),
        ]
    ).fit(train)
    assembled = prep.transform(train)
    gbt = GBTClassifier(maxIter=TREES, maxDepth=3, minInstancesPerNode=5, seed=7).fit(assembled)
    gbt.setPredictionCol("")
    calibrator = fit_calibrator(gbt.transform(assembled), calibration, "label")
    return PipelineModel(stages=[*prep.stages, gbt, calibrator])


def _converted(row: dict, treated: bool, noise: float) -> float:
    """Contacted: price-sensitive recent users convert too (persuadables); users long gone are put off
    (sleeping dogs). Either arm: frequent buyers convert anyway (sure things)."""
    anyway = row["frequency_90d"] + 2 * noise > 8
    if treated:
        return float((anyway and row["recency_days"] < 300) or row["promotion_sensitivity"] + 0.3 * noise > 0.6)
    return float(anyway or (row["recency_days"] >= 300 and row["promotion_sensitivity"] > 0.5))


def train_uplift_champion(spark: SparkSession, rows: list[dict]):
    """A real served uplift pipeline: the trainer's preparation (impute, index + one-hot, assemble) and a
    4-tree GBT per arm (every second user contacted), as ``served_pipeline`` puts them together."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier

    from userscore.models.dataset import FeatureColumns
    from userscore.models.training import feature_stages
    from userscore.uplift.model import served_pipeline

    rng = np.random.default_rng(11)
    inputs = (*UPLIFT_NUMERIC, *UPLIFT_CATEGORICAL)
    data = []
    for i, r in enumerate(rows):
        treated = i % 2 == 0
        data.append((*(r[c] for c in inputs), int(treated), _converted(r, treated, rng.normal())))
    schema = ", ".join([*(f"{c} double" for c in UPLIFT_NUMERIC), "member_level string", "treated int", "label double"])
    train = spark.createDataFrame(data, schema)
    prep = Pipeline(stages=feature_stages(FeatureColumns(UPLIFT_NUMERIC, UPLIFT_CATEGORICAL))).fit(train)
    assembled = prep.transform(train)
    arms = [
        GBTClassifier(maxIter=TREES, maxDepth=3, minInstancesPerNode=5, seed=7).fit(assembled.where(f"treated = {t}"))
        for t in (1, 0)
    ]
    return served_pipeline(prep, *arms)


def register(model, name: str, store_dir: Path, metrics: dict[str, float] | None = None) -> str:
    """Log ``model`` with mlflow.spark (and ``metrics`` on its run), register it as ``name`` and point
    alias champion at it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{store_dir}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name("scoring-tests") is None:
        client.create_experiment("scoring-tests", artifact_location=(store_dir / "mlruns").as_uri())
    mlflow.set_experiment("scoring-tests")
    with mlflow.start_run():
        if metrics:
            mlflow.log_metrics(metrics)
        info = mlflow.spark.log_model(
            model,
            artifact_path="model",
            registered_model_name=name,
            dfs_tmpdir=str(store_dir / "dfs"),
            pip_requirements=["pyspark"],  # skips inference, which loads the model in a second JVM
        )
    version = str(info.registered_model_version)
    client.set_registered_model_alias(name, "champion", version)
    return version


def tracking_overrides(store_dir: Path) -> dict:
    return {
        "models": {
            "tracking": {
                "uri": f"sqlite:///{store_dir}/mlflow.db",
                "artifact_root": str(store_dir / "mlruns"),
                "dfs_tmpdir": str(store_dir / "dfs"),
            }
        }
    }


def make_champion_store(spark, store_dir: Path):
    """A store with the three targets' champions and the uplift champion of UPLIFT_TYPE (registered
    last); returns (store dir, rows of D1, {target or UPLIFT_TYPE: model})."""
    config = make_config(store_dir, tracking_overrides(store_dir))
    rows = feature_rows(config, D1)
    models = {}
    for target, calibration in (
        ("churn_60d", "isotonic"),
        ("repurchase_30d", "platt"),
        ("vip_promotion_90d", "isotonic"),
    ):
        models[target] = train_champion(spark, target, rows, config, calibration)
        register(models[target], f"userscore-{target}", store_dir)
    models[UPLIFT_TYPE] = train_uplift_champion(spark, rows)
    from userscore.uplift.model import MARGIN_PER_CONVERSION

    register(models[UPLIFT_TYPE], f"userscore-{UPLIFT_TYPE}_uplift", store_dir, {MARGIN_PER_CONVERSION: MARGIN})
    return store_dir, rows, models


@pytest.fixture
def scoring_config(tmp_path, champion_store) -> Config:
    store_dir, _, _ = champion_store
    return make_config(tmp_path, tracking_overrides(store_dir))
