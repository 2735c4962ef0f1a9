"""Calibration stages on hand-worked cases: isotonic (pool adjacent violators) and Platt."""

from __future__ import annotations

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import Vectors

from userscore.config.params import CalibrationParams
from userscore.models.calibration import PlattModel, fit_calibrator


def _scored(spark, pairs):
    return spark.createDataFrame([(Vectors.dense([1 - p, p]), float(y)) for p, y in pairs], ["probability", "label"])


def test_isotonic_gives_the_pooled_adjacent_violators_values(spark):
    # Labels in score order 0, 1, 0, 0, 1, 1: the violating block (1, 0, 0) pools to 1/3.
    pairs = [(0.1, 0), (0.2, 1), (0.3, 0), (0.4, 0), (0.5, 1), (0.6, 1)]
    model = fit_calibrator(_scored(spark, pairs), CalibrationParams(method="isotonic"), "label")
    probe = _scored(spark, [*pairs, (0.45, 0), (0.05, 0), (0.9, 0)])
    got = [r.prediction for r in model.transform(probe).collect()]
    # Between fitted points the stage interpolates linearly (0.45: halfway from 1/3 to 1); outside, it clamps.
    assert got == pytest.approx([0.0, 1 / 3, 1 / 3, 1 / 3, 1.0, 1.0, 2 / 3, 0.0, 1.0])


def test_platt_on_calibrated_scores_is_the_identity_and_survives_save_load(spark, tmp_path):
    # At p = 0.2, 0.5, 0.8 the observed rates are 1/5, 1/2, 4/5: the likelihood is maximal at slope 1, intercept 0.
    pairs = [(0.2, 1)] + [(0.2, 0)] * 4 + [(0.5, 1), (0.5, 0)] + [(0.8, 1)] * 4 + [(0.8, 0)]
    model = fit_calibrator(_scored(spark, pairs), CalibrationParams(method="platt"), "label")
    assert isinstance(model, PlattModel)
    assert model.getOrDefault("slope") == pytest.approx(1.0, abs=1e-4)
    assert model.getOrDefault("intercept") == pytest.approx(0.0, abs=1e-4)
    PipelineModel(stages=[PlattModel(slope=2.0, intercept=-1.0)]).write().overwrite().save(str(tmp_path / "platt"))
    loaded = PipelineModel.load(str(tmp_path / "platt"))
    got = [r.prediction for r in loaded.transform(_scored(spark, [(0.5, 0), (0.8, 0)])).collect()]
    # sigmoid(2 * logit(p) - 1): logit(0.5) = 0 -> sigmoid(-1); logit(0.8) = ln 4 -> sigmoid(2 ln 4 - 1) = 16 / (16 + e).
    assert got == pytest.approx([1 / (1 + 2.718281828459045), 16 / (16 + 2.718281828459045)], abs=1e-6)
