"""Fit one target: shared feature preparation, Spark MLlib GBT, a logistic-regression baseline on the
same rows, and the calibration stage (chosen by out-of-fold ECE on the calibration slice, see
models/calibration.py); the served artifact is one PipelineModel.

The assembled training vectors are cached once and reused by both estimators (each GBT iteration
and each L-BFGS step is a pass over them); see docs/training.md for the speed settings.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassificationModel, GBTClassifier, LogisticRegression
from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.config.models import TargetConfig
from userscore.config.params import GBTParams, LRParams
from userscore.hashing import uniform_hash
from userscore.keys import KEY_COLUMNS, USER_ID
from userscore.models.calibration import PROBABILITY, CalibrationChoice, choose_calibration
from userscore.models.dataset import CALIBRATION, TRAIN, WEIGHT, FeatureColumns, TrainingSet
from userscore.models.targets import LABEL

FEATURES = "features"
LR_PROBABILITY = "lr_probability"
EARLY_STOPPING_FLAG = "_early_stopping"
_FOLD = "_calibration_fold"
_PREFIXES = ("_imp_", "_ohe_")


@dataclass
class FittedModels:
    """The served pipeline (prep + GBT + calibration), its parts, and the baseline stages.

    ``baseline`` applies to the output of ``prep`` (it reuses the assembled ``features`` column).
    ``calibration``: the served calibration stage and what it was chosen on (logged with the run).
    """

    served: PipelineModel
    prep: PipelineModel
    gbt: GBTClassificationModel
    calibration: CalibrationChoice
    baseline: PipelineModel
    feature_names: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def feature_stages(columns: FeatureColumns) -> list:
    """Impute numeric nulls (median), index + one-hot categoricals, assemble one ``features`` vector."""
    stages: list = []
    inputs: list[str] = []
    if columns.numeric:
        imputed = [f"_imp_{c}" for c in columns.numeric]
        stages.append(Imputer(inputCols=list(columns.numeric), outputCols=imputed, strategy="median"))
        inputs += imputed
    if columns.categorical:
        indexed = [f"_idx_{c}" for c in columns.categorical]
        encoded = [f"_ohe_{c}" for c in columns.categorical]
        stages.append(StringIndexer(inputCols=list(columns.categorical), outputCols=indexed, handleInvalid="keep"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
        inputs += encoded
    stages.append(VectorAssembler(inputCols=inputs, outputCol=FEATURES, handleInvalid="keep"))
    return stages


def gbt_classifier(params: GBTParams, weighted: bool) -> GBTClassifier:
    """The GBT estimator from typed params; ``prediction`` is left to the calibration stage."""
    gbt = GBTClassifier(
        featuresCol=FEATURES,
        labelCol=LABEL,
        maxIter=params.max_iter,
        maxDepth=params.max_depth,
        stepSize=params.step_size,
        maxBins=params.max_bins,
        minInstancesPerNode=params.min_instances_per_node,
        minInfoGain=params.min_info_gain,
        subsamplingRate=params.subsampling_rate,
        featureSubsetStrategy=params.feature_subset_strategy,
        cacheNodeIds=params.cache_node_ids,
        checkpointInterval=params.checkpoint_interval,
        maxMemoryInMB=params.max_memory_in_mb,
        validationTol=params.validation_tol,
        seed=params.seed,
    )
    if weighted:
        gbt.setWeightCol(WEIGHT)
    if params.early_stopping_fraction > 0:
        gbt.setValidationIndicatorCol(EARLY_STOPPING_FLAG)
    return gbt


def logistic_regression(params: LRParams, weighted: bool) -> Pipeline:
    """Standardise the assembled features, then L2 logistic regression (output ``lr_probability``)."""
    lr = LogisticRegression(
        featuresCol="_lr_features",
        labelCol=LABEL,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        elasticNetParam=params.elastic_net_param,
        tol=params.tol,
        probabilityCol=LR_PROBABILITY,
        rawPredictionCol="_lr_raw",
        predictionCol="_lr_prediction",
    )
    if weighted:
        lr.setWeightCol(WEIGHT)
    return Pipeline(stages=[StandardScaler(inputCol=FEATURES, outputCol="_lr_features", withMean=True), lr])


def without_training_summary(model: PipelineModel, scratch_dir: str) -> PipelineModel:
    """``model`` saved under ``scratch_dir`` and loaded back, which drops the LR training summary.

    A freshly fitted LogisticRegressionModel keeps its training summary, which references the
    SparkSession; once the session's ObservationManager exists (Spark 4), shipping the model inside a
    task (its predict UDF) fails with "Task not serializable". A loaded model has no summary.
    """
    spark = SparkSession.getActiveSession()
    path = f"{scratch_dir.rstrip('/')}/lr-baseline-{uuid.uuid4().hex}"
    model.write().save(path)
    try:
        return PipelineModel.load(path)
    finally:
        hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
        hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(hadoop_path, True)


def feature_names(assembled: DataFrame) -> list[str]:
    """Vector slot -> source feature name, from the assembler's ML attribute metadata."""
    attrs = assembled.schema[FEATURES].metadata.get("ml_attr", {}).get("attrs", {})
    slots = sorted((a["idx"], a["name"]) for group in attrs.values() for a in group)
    names = []
    for _, name in slots:
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        names.append(name)
    return names


def ensure_checkpoint_dir(spark, directory: str) -> None:
    """Give the SparkContext a checkpoint directory unless it has one: GBT checkpoints its node-id cache
    and prediction RDDs only when the context has a directory."""
    if spark.sparkContext.getCheckpointDir() is None:
        if "://" not in directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
        spark.sparkContext.setCheckpointDir(directory)


def task_slots(spark: SparkSession) -> int:
    """Tasks the session runs at once: N for local[N], every CPU for local[*], else the default parallelism."""
    master = spark.sparkContext.master
    local = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]", master)
    if local:
        return (os.cpu_count() or 1) if local.group(1) == "*" else int(local.group(1))
    return 1 if master == "local" else spark.sparkContext.defaultParallelism


def with_partitions(df: DataFrame, partitions: int) -> DataFrame:
    """``df`` in exactly ``partitions`` partitions (coalesce when fewer, repartition when more)."""
    current = df.rdd.getNumPartitions()
    if current > partitions:
        return df.coalesce(partitions)
    return df.repartition(partitions) if current < partitions else df


def fit_models(
    data: TrainingSet, target: TargetConfig, checkpoint_dir: str, partitions: int | None, ece_bins: int
) -> FittedModels:
    """Fit prep, GBT and the LR baseline on the training rows and calibration on the calibration slice.

    ``partitions``: of the cached training vectors (None: one per task slot). Every GBT level and every
    L-BFGS step is one stage over them, so a task per slot avoids waves of small tasks. ``ece_bins``: of
    the calibration choice's out-of-fold ECE (models.evaluation.ece_bins, as the validation ECE).
    """
    seconds: dict[str, float] = {}
    train = data.part(TRAIN)
    weighted = bool(data.class_weights)
    started = time.perf_counter()
    prep = Pipeline(stages=feature_stages(data.features)).fit(train)
    columns = [F.col(FEATURES), F.col(LABEL).cast("double").alias(LABEL), F.col(WEIGHT)]
    if target.gbt.early_stopping_fraction > 0:
        es = uniform_hash(f"early-stopping-{target.gbt.seed}", *KEY_COLUMNS) < target.gbt.early_stopping_fraction
        columns.append(es.alias(EARLY_STOPPING_FLAG))
    assembled = with_partitions(prep.transform(train).select(*columns), partitions or task_slots(train.sparkSession))
    assembled = assembled.persist(StorageLevel.MEMORY_AND_DISK)
    assembled.count()
    seconds["prepare"] = time.perf_counter() - started

    ensure_checkpoint_dir(train.sparkSession, checkpoint_dir)
    started = time.perf_counter()
    gbt = gbt_classifier(target.gbt, weighted).fit(assembled)
    seconds["gbt"] = time.perf_counter() - started
    gbt.setPredictionCol("")

    started = time.perf_counter()
    baseline = without_training_summary(logistic_regression(target.lr, weighted).fit(assembled), checkpoint_dir)
    seconds["lr"] = time.perf_counter() - started
    baseline.stages[-1].setPredictionCol("").setRawPredictionCol("")
    names = feature_names(assembled)
    assembled.unpersist()

    started = time.perf_counter()
    settings = target.calibration
    # Folds by user: a user's snapshots are correlated, so they stay on one side of every fit.
    fold = F.floor(uniform_hash(f"calibration-fold-{settings.seed}", USER_ID) * settings.folds).cast("int")
    scored = gbt.transform(prep.transform(data.part(CALIBRATION))).select(PROBABILITY, LABEL, fold.alias(_FOLD))
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)  # read by every fold's fit and the final one
    try:
        choice = choose_calibration(scored, settings, LABEL, _FOLD, ece_bins)
    finally:
        scored.unpersist()
    seconds["calibration"] = time.perf_counter() - started
    served = PipelineModel(stages=[*prep.stages, gbt, choice.stage])
    return FittedModels(served, prep, gbt, choice, baseline, names, seconds)
