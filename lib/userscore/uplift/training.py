"""Fit an uplift model and its baseline on the training units (userscore.uplift.dataset).

- T-learner (the served model): the trainer's feature preparation fitted once on every unit, then one GBT
  per arm on the same vectors; uplift = P(convert | treated) - P(convert | control).
- Class transformation (the baseline; Jaskowski & Jaroszewicz 2012): one GBT of z = 1 when a treated user
  converted or a control user did not, the arms weighted to equal totals; then P(z = 1 | x) =
  (1 + uplift(x)) / 2, so uplift = 2 P(z = 1 | x) - 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassificationModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.params import GBTParams
from userscore.hashing import uniform_hash
from userscore.keys import USER_ID
from userscore.models.dataset import WEIGHT, FeatureColumns
from userscore.models.targets import LABEL
from userscore.models.training import (
    EARLY_STOPPING_FLAG,
    FEATURES,
    ensure_checkpoint_dir,
    feature_names,
    feature_stages,
    gbt_classifier,
    task_slots,
    with_partitions,
)
from userscore.uplift.dataset import CONVERTED, TREATED
from userscore.uplift.model import positive, served_pipeline


@dataclass
class FittedUplift:
    """The served T-learner pipeline and the class-transformation baseline pipeline (same preparation)."""

    served: PipelineModel
    baseline: PipelineModel
    feature_names: list[str]
    importances: dict[str, list[tuple[str, float]]]
    seconds: dict[str, float] = field(default_factory=dict)


def _assembled(prep: PipelineModel, train: DataFrame, params: GBTParams, partitions: int | None) -> DataFrame:
    """The training vectors with label, arm, the balanced class-transformation weight and (with early
    stopping) the validation flag, cached: three GBTs read them."""
    counts = {int(r[TREATED]): int(r["count"]) for r in train.groupBy(TREATED).count().collect()}
    total = sum(counts.values())
    # Each arm's total weight is half the rows: the transformed outcome then estimates the uplift whatever
    # share of the campaign was held out.
    weight = F.when(F.col(TREATED) == 1, total / (2 * counts.get(1, 1))).otherwise(total / (2 * counts.get(0, 1)))
    columns = [
        F.col(FEATURES),
        F.col(CONVERTED).cast("double").alias(LABEL),
        F.col(TREATED),
        weight.alias(WEIGHT),
    ]
    if params.early_stopping_fraction > 0:
        flag = uniform_hash(f"early-stopping-{params.seed}", F.col("campaign_id"), F.col(USER_ID))
        columns.append((flag < params.early_stopping_fraction).alias(EARLY_STOPPING_FLAG))
    slots = partitions or task_slots(train.sparkSession)
    assembled = with_partitions(prep.transform(train).select(*columns), slots)
    return assembled.persist(StorageLevel.MEMORY_AND_DISK)


def fit_uplift(
    train: DataFrame, columns: FeatureColumns, params: GBTParams, checkpoint_dir: str, partitions: int | None
) -> FittedUplift:
    """Fit the preparation, the two arm GBTs and the class-transformation GBT on ``train``."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    prep = Pipeline(stages=feature_stages(columns)).fit(train)
    assembled = _assembled(prep, train, params, partitions)
    try:
        assembled.count()
        seconds["prepare"] = time.perf_counter() - started
        ensure_checkpoint_dir(train.sparkSession, checkpoint_dir)
        arms: dict[str, GBTClassificationModel] = {}
        for arm, flag in (("treated", 1), ("control", 0)):
            started = time.perf_counter()
            arms[arm] = gbt_classifier(params, weighted=False).fit(assembled.where(F.col(TREATED) == flag))
            seconds[f"gbt_{arm}"] = time.perf_counter() - started
        started = time.perf_counter()
        z = (F.col(LABEL) == F.col(TREATED).cast("double")).cast("double").alias(LABEL)
        transformed = assembled.select(
            FEATURES, z, WEIGHT, *([EARLY_STOPPING_FLAG] if params.early_stopping_fraction > 0 else [])
        )
        transformation = gbt_classifier(params, weighted=True).fit(transformed)
        seconds["gbt_class_transformation"] = time.perf_counter() - started
        names = feature_names(assembled)
    finally:
        assembled.unpersist()
    transformation.setPredictionCol("")
    importances = {arm: _top(names, model) for arm, model in (*arms.items(), ("class_transformation", transformation))}
    served = served_pipeline(prep, arms["treated"], arms["control"])
    baseline = PipelineModel(stages=[*prep.stages, transformation])
    return FittedUplift(served, baseline, names, importances, seconds)


def _top(names: list[str], model: GBTClassificationModel, k: int = 15) -> list[tuple[str, float]]:
    values = (float(v) for v in model.featureImportances.toArray())
    return sorted(zip(names, values, strict=True), key=lambda item: -item[1])[:k]


def class_transformation_uplift() -> Column:
    """2 P(z = 1) - 1 from the baseline pipeline's output."""
    return 2 * positive("probability") - 1
