"""Probability calibration as the last stage of the served pipeline.

The stage reads the model's ``probability`` vector and writes ``prediction``: the calibrated
probability of the positive class. ``prediction`` is the column MLflow's pyfunc wrapper returns, so
the one logged PipelineModel maps a feature row to a calibrated probability in Spark and in pyfunc.
"""

from __future__ import annotations

import math

from pyspark.ml import Model, Transformer
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.regression import IsotonicRegression
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.params import CalibrationParams

PROBABILITY = "probability"
PREDICTION = "prediction"
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
    """Fit the two Platt parameters by unregularised logistic regression on the log-odds."""
    data = scored.select(array_to_vector(F.array(_logit(positive_probability()))).alias("_logit"), F.col(label))
    lr = LogisticRegression(
        featuresCol="_logit", labelCol=label, regParam=0.0, standardization=False, maxIter=100, tol=1e-10
    )
    fitted = lr.fit(data)
    slope, intercept = float(fitted.coefficients[0]), float(fitted.intercept)
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise ValueError(f"Platt calibration did not converge (slope {slope}, intercept {intercept})")
    return PlattModel(slope=slope, intercept=intercept)


def fit_calibrator(scored: DataFrame, params: CalibrationParams, label: str) -> Transformer:
    """Fit the calibration stage on rows scored by the uncalibrated model (column ``probability``)."""
    if params.method == "isotonic":
        isotonic = IsotonicRegression(
            featuresCol=PROBABILITY, featureIndex=1, labelCol=label, predictionCol=PREDICTION, isotonic=True
        )
        return isotonic.fit(scored)
    return fit_platt(scored, label)
