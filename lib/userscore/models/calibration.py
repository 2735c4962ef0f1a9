"""Probability calibration as the last stage of the served pipeline, chosen by held-out ECE.

The stage reads the model's ``probability`` vector and writes ``prediction``: the calibrated
probability of the positive class. ``prediction`` is the column MLflow's pyfunc wrapper returns, so
the one logged PipelineModel maps a feature row to a calibrated probability in Spark and in pyfunc.

Three stages, all strictly increasing on (0, 1) so that they rank users exactly as the raw model does
(no ties, so no AUC lost to them):

- ``isotonic``: centred isotonic regression. Spark's pool-adjacent-violators fit gives blocks of
  raw scores with one observed rate each; one knot per block at its mean raw score, linear between
  knots, anchored at (0, 0) and (1, 1). Stored as a Spark IsotonicRegressionModel whose boundaries
  and predictions are the knots, so MLlib and scoring/compiled.py serve it unchanged.
- ``platt``: sigmoid(slope * logit(p) + intercept) (PlattModel).
- ``none``: the identity, stored as the IsotonicRegressionModel through (0, 0) and (1, 1).

``auto`` picks the one with the lowest expected calibration error measured out of fold: the
calibration slice is split into folds by a hash of the user, each method is fitted on all folds but
one and scores the left-out one, and the ECE is taken over all out-of-fold scores. The validation
snapshot is never read. The chosen method is then refitted on the whole slice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.ml import Model, Transformer
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import Bucketizer
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.regression import IsotonicRegression, IsotonicRegressionModel
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.config.params import CalibrationParams
from userscore.models.evaluation import score_bin

PROBABILITY = "probability"
PREDICTION = "prediction"
# Simplest first: a method must be strictly better out of fold to be preferred to a simpler one.
METHODS = ("none", "platt", "isotonic")
_EPS = 1e-7


def positive_probability(column: str = PROBABILITY) -> Column:
    """The positive-class element of a probability vector column."""
    return vector_to_array(F.col(column))[1]


def _logit(p: Column) -> Column:
    clipped = F.least(F.greatest(p, F.lit(_EPS)), F.lit(1.0 - _EPS))
    return F.log(clipped / (1.0 - clipped))


class PlattModel(Model, DefaultParamsReadable, DefaultParamsWritable):
    """p' = sigmoid(slope * logit(p) + intercept), p = the positive-class probability."""

    slope = Param(Params._dummy(), "slope", "coefficient of the log-odds", typeConverter=TypeConverters.toFloat)
    intercept = Param(Params._dummy(), "intercept", "intercept", typeConverter=TypeConverters.toFloat)

    def __init__(self, slope: float = 1.0, intercept: float = 0.0):
        super().__init__()
        self._setDefault(slope=1.0, intercept=0.0)
        self._set(slope=float(slope), intercept=float(intercept))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        z = F.lit(self.getOrDefault(self.slope)) * _logit(positive_probability()) + F.lit(
            self.getOrDefault(self.intercept)
        )
        return dataset.withColumn(PREDICTION, 1.0 / (1.0 + F.exp(-z)))


def fit_platt(scored: DataFrame, label: str) -> PlattModel:
    """Fit the two Platt parameters by unregularised logistic regression on the log-odds; ValueError when
    they are not finite or the slope is not positive."""
    data = scored.select(array_to_vector(F.array(_logit(positive_probability()))).alias("_logit"), F.col(label))
    lr = LogisticRegression(
        featuresCol="_logit", labelCol=label, regParam=0.0, standardization=False, maxIter=100, tol=1e-10
    )
    fitted = lr.fit(data)
    slope, intercept = float(fitted.coefficients[0]), float(fitted.intercept)
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise ValueError(f"Platt calibration did not converge (slope {slope}, intercept {intercept})")
    if slope <= 0.0:
        # A calibration must keep the model's ranking: a slope <= 0 would reverse or flatten it.
        raise ValueError(f"Platt calibration would not keep the ranking (slope {slope:.4g} <= 0)")
    return PlattModel(slope=slope, intercept=intercept)


@dataclass(frozen=True)
class Block:
    """One pool-adjacent-violators block: raw scores in [start, end] with observed rate ``value``."""

    start: float
    end: float
    value: float


def isotonic_blocks(boundaries: Sequence[float], predictions: Sequence[float]) -> list[Block]:
    """The blocks of a fitted step isotonic model: each run of equal predictions is one block (Spark
    writes a block as its first and last raw score, one point when both are the same)."""
    blocks: list[Block] = []
    for x, y in zip(boundaries, predictions, strict=True):
        if blocks and blocks[-1].value == y:
            blocks[-1] = Block(blocks[-1].start, x, y)
        else:
            blocks.append(Block(x, x, y))
    return blocks


def centred_knots(blocks: Sequence[Block], centres: Sequence[float]) -> tuple[list[float], list[float]]:
    """Knots of the centred isotonic map: (0, 0), each block's (centre, value), (1, 1).

    A knot is kept only if it is strictly above the previous one in both coordinates and below (1, 1),
    so the knots define a strictly increasing map: a bottom block whose rate is 0 (or a top block at
    1) is dropped, and its scores are interpolated towards the anchor instead of tying at 0 (or 1).
    A centre is first clamped into its block: a mean of equal floats can miss them by an ulp.
    """
    xs, ys = [0.0], [0.0]
    for block, centre in zip(blocks, centres, strict=True):
        x = min(max(centre, block.start), block.end)
        if xs[-1] < x < 1.0 and ys[-1] < block.value < 1.0:
            xs.append(x)
            ys.append(block.value)
    return [*xs, 1.0], [*ys, 1.0]


def isotonic_through(spark: SparkSession, boundaries: Sequence[float], predictions: Sequence[float]):
    """A Spark IsotonicRegressionModel whose boundaries and predictions are exactly the given knots.

    PySpark has no constructor from arrays, so the model is fitted on the knots themselves: with
    strictly increasing values pool-adjacent-violators pools nothing and returns each point as it is
    (its value w * y / w with w = 1 is y exactly). Checked, not assumed.
    """
    rows = [(Vectors.dense([1.0 - x, x]), float(y)) for x, y in zip(boundaries, predictions, strict=True)]
    knots = spark.createDataFrame(rows, [PROBABILITY, "_knot"])
    model = IsotonicRegression(
        featuresCol=PROBABILITY, featureIndex=1, labelCol="_knot", predictionCol=PREDICTION, isotonic=True
    ).fit(knots)
    got = (list(model.boundaries.toArray()), list(model.predictions.toArray()))
    if got != (list(map(float, boundaries)), list(map(float, predictions))):
        raise RuntimeError(f"isotonic model does not reproduce its knots: {got} vs {boundaries}, {predictions}")
    return model


def identity_calibration(spark: SparkSession) -> IsotonicRegressionModel:
    """The ``none`` stage: prediction = p (the line through (0, 0) and (1, 1))."""
    return isotonic_through(spark, [0.0, 1.0], [0.0, 1.0])


def fit_isotonic(scored: DataFrame, label: str) -> IsotonicRegressionModel:
    """Centred isotonic regression on the positive-class probability (see the module docstring).

    Three small Spark jobs: the distributed PAV fit, the mean raw score per block (an aggregation with
    one row per block), and the fit on the knots.
    """
    step = IsotonicRegression(
        featuresCol=PROBABILITY, featureIndex=1, labelCol=label, predictionCol=PREDICTION, isotonic=True
    ).fit(scored)
    blocks = isotonic_blocks(step.boundaries.toArray().tolist(), step.predictions.toArray().tolist())
    raw = scored.select(positive_probability().alias("_p"))
    if len(blocks) > 1:  # a row's block: the last one starting at or below its score
        splits = [-math.inf, *(b.start for b in blocks[1:]), math.inf]
        bucketed = Bucketizer(splits=splits, inputCol="_p", outputCol="_block").transform(raw)
    else:  # Bucketizer needs three splits at least
        bucketed = raw.withColumn("_block", F.lit(0.0))
    means = dict(bucketed.groupBy("_block").agg(F.avg("_p").alias("_centre")).collect())
    centres = [means.get(float(i), (b.start + b.end) / 2) for i, b in enumerate(blocks)]
    boundaries, predictions = centred_knots(blocks, centres)
    return isotonic_through(scored.sparkSession, boundaries, predictions)


def fit_calibrator(scored: DataFrame, method: str, label: str) -> Transformer:
    """The ``method`` stage (isotonic, platt or none) fitted on rows scored by the uncalibrated model."""
    if method == "isotonic":
        return fit_isotonic(scored, label)
    if method == "platt":
        return fit_platt(scored, label)
    if method == "none":
        return identity_calibration(scored.sparkSession)
    raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")


def expected_calibration_error(scored: DataFrame, score: Column, label: str, bins: int) -> float:
    """Sum over ``bins`` equal-width bins of (rows in bin / rows) * |mean score - positive rate|, as the
    validation ECE (models/evaluation.py) is defined. One aggregation, one row per bin."""
    rows = (
        scored.groupBy(score_bin(score, bins).alias("_bin"))
        .agg(F.count(F.lit(1)).alias("n"), F.sum(score).alias("s"), F.sum(F.col(label).cast("double")).alias("y"))
        .collect()
    )
    total = sum(r["n"] for r in rows)
    return sum(abs(r["s"] - r["y"]) for r in rows) / total if total else 0.0


@dataclass(frozen=True)
class CalibrationChoice:
    """The served calibration stage, the method chosen, and what the choice was based on.

    ``held_out_ece``: the out-of-fold ECE of each method evaluated; ``skipped``: methods that could not
    be evaluated out of fold, with the reason.
    """

    stage: Transformer
    method: str
    configured: str
    held_out_ece: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """MLflow metrics: ``calibration_heldout_ece_<method>`` and the knot count of an isotonic stage."""
        out = {f"calibration_heldout_ece_{m}": v for m, v in self.held_out_ece.items()}
        if self.method == "isotonic":
            out["calibration_knots"] = float(len(self.stage.boundaries))
        return out

    def params(self) -> dict[str, str]:
        """MLflow params: the method chosen (``calibration.method`` is the configured one)."""
        out = {"calibration.chosen": self.method}
        out |= {f"calibration.skipped.{m}": reason for m, reason in self.skipped.items()}
        return out

    def describe(self) -> str:
        """The method served and each evaluated method's out-of-fold ECE, for the train summary."""
        ece = ", ".join(f"{m} {v:.4f}" for m, v in self.held_out_ece.items())
        return f"{self.method} (out-of-fold ECE: {ece or '-'})"


def held_out_ece(scored: DataFrame, method: str, label: str, fold: str, folds: int, bins: int) -> float:
    """ECE of ``method`` over out-of-fold scores: fold k is scored by the stage fitted on the others."""
    if method == "none":
        return expected_calibration_error(scored, positive_probability(), label, bins)
    parts = []
    for k in range(folds):
        stage = fit_calibrator(scored.where(F.col(fold) != k), method, label)
        parts.append(stage.transform(scored.where(F.col(fold) == k)).select(PREDICTION, label))
    out_of_fold = parts[0]
    for part in parts[1:]:
        out_of_fold = out_of_fold.unionByName(part)
    return expected_calibration_error(out_of_fold, F.col(PREDICTION), label, bins)


def _one_class_folds(scored: DataFrame, label: str, fold: str, folds: int) -> list[int]:
    """Folds whose complement (the rows a fold's stage is fitted on) lacks a class or is empty."""
    counts = {(r[0], r[1]): r[2] for r in scored.groupBy(fold, label).count().collect()}
    bad = []
    for k in range(folds):
        positives = sum(n for (f, y), n in counts.items() if f != k and y == 1)
        negatives = sum(n for (f, y), n in counts.items() if f != k and y != 1)
        if positives == 0 or negatives == 0:
            bad.append(k)
    return bad


def choose_calibration(
    scored: DataFrame, params: CalibrationParams, label: str, fold: str, ece_bins: int
) -> CalibrationChoice:
    """Evaluate the candidate methods out of fold and fit the chosen one on all of ``scored``.

    ``scored``: the calibration slice scored by the uncalibrated model (``probability``), the label,
    and ``fold`` (an integer in [0, params.folds), by user). ``auto`` evaluates every method and keeps
    the lowest ECE (ties: the simpler); a fixed method is evaluated alone, for the record. A method
    that cannot be fitted on some fold's complement (one class only, or Platt diverging) has no
    held-out ECE and is not chosen by ``auto``; ``none`` always can be.
    """
    candidates = METHODS if params.method == "auto" else (params.method,)
    ece: dict[str, float] = {}
    skipped: dict[str, str] = {}
    bad = _one_class_folds(scored, label, fold, params.folds) if set(candidates) - {"none"} else []
    for method in candidates:
        if method != "none" and bad:
            skipped[method] = f"the rows outside fold(s) {bad} have a single class"
            continue
        try:
            ece[method] = held_out_ece(scored, method, label, fold, params.folds, ece_bins)
        except ValueError as exc:
            skipped[method] = str(exc)
    chosen = params.method if params.method != "auto" else min(ece, key=lambda m: (ece[m], METHODS.index(m)))
    return CalibrationChoice(fit_calibrator(scored, chosen, label), chosen, params.method, ece, skipped)
