"""Calibration stages and the choice between them, on hand-worked cases.

Centred isotonic (pool-adjacent-violators blocks, linear between their centres), Platt, none, and the
out-of-fold ECE that chooses among them. Expected values are worked by hand in the comments; Platt's
are from an independent numpy Newton fit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import IsotonicRegressionModel

from userscore.config.params import CalibrationParams
from userscore.models.calibration import (
    Block,
    PlattModel,
    centred_knots,
    choose_calibration,
    expected_calibration_error,
    fit_calibrator,
    isotonic_blocks,
    positive_probability,
)


def _scored(spark, pairs, folds=None):
    rows = [(Vectors.dense([1 - p, p]), float(y)) for p, y in pairs]
    if folds is None:
        return spark.createDataFrame(rows, ["probability", "label"])
    return spark.createDataFrame([(*r, f) for r, f in zip(rows, folds, strict=True)], ["probability", "label", "fold"])


def _predict(model, spark, scores):
    rows = model.transform(_scored(spark, [(p, 0) for p in scores])).select("prediction").collect()
    return [r.prediction for r in rows]


def _auc(scores, labels):
    """Plain pair counting: P(score of a positive > score of a negative), ties counted one half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def test_blocks_are_runs_of_equal_predictions():
    # Spark writes a block as its first and last score, a single score once.
    blocks = isotonic_blocks([0.1, 0.4, 0.5, 0.6, 0.7], [0.25, 0.25, 0.5, 0.5, 1.0])
    assert blocks == [Block(0.1, 0.4, 0.25), Block(0.5, 0.6, 0.5), Block(0.7, 0.7, 1.0)]


def test_knots_drop_blocks_that_would_tie_an_anchor():
    # Bottom block at rate 0 and top block at rate 1 would tie (0, 0) and (1, 1): dropped. A centre one ulp
    # outside its block is clamped into it.
    blocks = [Block(0.1, 0.2, 0.0), Block(0.3, 0.4, 0.25), Block(0.5, 0.6, 0.75), Block(0.7, 0.9, 1.0)]
    xs, ys = centred_knots(blocks, [0.15, math.nextafter(0.3, 0.0), 0.55, 0.8])
    assert (xs, ys) == ([0.0, 0.3, 0.55, 1.0], [0.0, 0.25, 0.75, 1.0])
    # One block with a rate strictly inside (0, 1): three knots.
    assert centred_knots([Block(0.2, 0.6, 0.3)], [0.5]) == ([0.0, 0.5, 1.0], [0.0, 0.3, 1.0])


NINE = [(0.1, 1), (0.2, 0), (0.3, 0), (0.4, 0), (0.5, 1), (0.6, 0), (0.7, 1), (0.8, 1), (0.9, 0)]


def test_centred_isotonic_worked_by_hand(spark):
    # PAV on labels 1 0 0 0 | 1 0 | 1 1 0: blocks [0.1, 0.4] rate 1/4, [0.5, 0.6] rate 1/2, [0.7, 0.9] rate 2/3.
    # Centres 0.25, 0.55, 0.8; knots (0, 0), (0.25, 1/4), (0.55, 1/2), (0.8, 2/3), (1, 1).
    model = fit_calibrator(_scored(spark, NINE), "isotonic", "label")
    assert isinstance(model, IsotonicRegressionModel)
    assert model.boundaries.toArray().tolist() == pytest.approx([0.0, 0.25, 0.55, 0.8, 1.0], abs=1e-15)
    assert model.predictions.toArray().tolist() == pytest.approx([0.0, 1 / 4, 1 / 2, 2 / 3, 1.0], abs=1e-15)
    # 0.3: 1/4 + 1/4 * 0.05/0.3; 0.6: 1/2 + 1/6 * 0.05/0.25; 0.9: 2/3 + 1/3 * 0.1/0.2. Nine distinct values
    # where the step isotonic fit has three (1/4, 1/2, 2/3).
    want = [0.1, 0.2, 7 / 24, 3 / 8, 11 / 24, 8 / 15, 0.6, 2 / 3, 5 / 6]
    assert _predict(model, spark, [p for p, _ in NINE]) == pytest.approx(want, abs=1e-12)


def test_centred_isotonic_is_strictly_increasing_and_keeps_the_raw_auc(spark):
    model = fit_calibrator(_scored(spark, NINE), "isotonic", "label")
    grid = [i / 200 for i in range(201)]
    got = _predict(model, spark, grid)
    assert all(a < b for a, b in zip(got[:-1], got[1:], strict=True)), "not strictly increasing on [0, 1]"
    # Probe: negatives at 0.15, 0.65, positives at 0.35, 0.75; raw AUC 3/4 (0.35 beats 0.15, 0.75 beats both).
    # The step fit maps 0.15 and 0.35 both to 1/4 (same block), a tie: AUC 2.5/4. Centred: 0.15, 1/3, 17/30, 19/30.
    probe, labels = [0.15, 0.35, 0.65, 0.75], [0, 1, 0, 1]
    calibrated = _predict(model, spark, probe)
    assert calibrated == pytest.approx([0.15, 1 / 3, 17 / 30, 19 / 30], abs=1e-12)
    assert _auc(calibrated, labels) == _auc(probe, labels) == 0.75


def test_none_is_the_identity(spark, tmp_path):
    model = fit_calibrator(_scored(spark, NINE), "none", "label")
    scores = [0.0, 1e-9, 0.123456789, 0.5, 0.987654321, 1.0]
    assert _predict(model, spark, scores) == scores
    PipelineModel(stages=[model]).write().overwrite().save(str(tmp_path / "none"))
    assert _predict(PipelineModel.load(str(tmp_path / "none")), spark, scores) == scores


def test_platt_on_calibrated_scores_is_the_identity_and_survives_save_load(spark, tmp_path):
    # At p = 0.2, 0.5, 0.8 the observed rates are 1/5, 1/2, 4/5: the likelihood is maximal at slope 1, intercept 0.
    pairs = [(0.2, 1)] + [(0.2, 0)] * 4 + [(0.5, 1), (0.5, 0)] + [(0.8, 1)] * 4 + [(0.8, 0)]
    model = fit_calibrator(_scored(spark, pairs), "platt", "label")
    assert isinstance(model, PlattModel)
    assert model.getOrDefault("slope") == pytest.approx(1.0, abs=1e-4)
    assert model.getOrDefault("intercept") == pytest.approx(0.0, abs=1e-4)
    PipelineModel(stages=[PlattModel(slope=2.0, intercept=-1.0)]).write().overwrite().save(str(tmp_path / "platt"))
    loaded = PipelineModel.load(str(tmp_path / "platt"))
    # sigmoid(2 * logit(p) - 1): logit(0.5) = 0 -> sigmoid(-1); logit(0.8) = ln 4 -> sigmoid(2 ln 4 - 1) = 16 / (16 + e).
    assert _predict(loaded, spark, [0.5, 0.8]) == pytest.approx([1 / (1 + math.e), 16 / (16 + math.e)], abs=1e-6)


def test_ece_worked_by_hand(spark):
    # Two bins: [0, 0.5) holds 0.1 (0), 0.3 (1): mean 0.2, rate 0.5; [0.5, 1] holds 0.6 (1), 0.8 (1), 1.0 (0):
    # mean 0.8, rate 2/3. ECE = 2/5 * 0.3 + 3/5 * 2/15 = 0.2.
    df = _scored(spark, [(0.1, 0), (0.3, 1), (0.6, 1), (0.8, 1), (1.0, 0)])
    assert expected_calibration_error(df, positive_probability(), "label", 2) == pytest.approx(0.2, abs=1e-12)


# Two folds of dyadic scores (exact means). Fold 0: 2/8 (1), 3/8 (0), 5/8 (1), 6/8 (1);
# fold 1: 1/8 (0), 2/8 (0), 4/8 (1), 5/8 (0), 7/8 (1).
FOLD0 = [(2 / 8, 1), (3 / 8, 0), (5 / 8, 1), (6 / 8, 1)]
FOLD1 = [(1 / 8, 0), (2 / 8, 0), (4 / 8, 1), (5 / 8, 0), (7 / 8, 1)]


def _platt_numpy(pairs):
    """Unregularised logistic regression of the label on logit(p), by Newton's method."""
    x = np.array([math.log(p / (1 - p)) for p, _ in pairs])
    design = np.column_stack([x, np.ones_like(x)])
    y = np.array([float(t) for _, t in pairs])
    w = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ w))
        w = w + np.linalg.solve((design * (p * (1 - p))[:, None]).T @ design, design.T @ (y - p))
    return lambda q: 1 / (1 + math.exp(-(w[0] * math.log(q / (1 - q)) + w[1])))


def _ece(pairs, bins):
    cells: dict[int, list[float]] = {}
    for s, y in pairs:
        cell = cells.setdefault(min(math.floor(s * bins), bins - 1), [0, 0.0, 0.0])
        cell[0], cell[1], cell[2] = cell[0] + 1, cell[1] + s, cell[2] + y
    return sum(abs(s - y) for _, s, y in cells.values()) / sum(n for n, _, _ in cells.values())


def test_auto_chooses_by_out_of_fold_ece_then_refits_on_the_whole_slice(spark):
    df = _scored(spark, FOLD0 + FOLD1, folds=[0] * 4 + [1] * 5)
    params = CalibrationParams(method="auto", folds=2, seed=0)
    choice = choose_calibration(df, params, "label", "fold", 2)

    # none: the raw scores. [0, 0.5): 1/8, 2/8, 2/8, 3/8 with one positive: |1 - 1| = 0;
    # [0.5, 1]: 4/8, 5/8, 5/8, 6/8, 7/8 (sum 27/8) with 4 positives: |27/8 - 4| = 5/8. ECE = 5/8 / 9 = 5/72.
    # isotonic on fold 0: blocks {2/8, 3/8} rate 1/2 centre 5/16, {5/8, 6/8} rate 1 (dropped): knots (0, 0),
    # (5/16, 1/2), (1, 1). On fold 1: {1/8, 2/8} rate 0 (dropped), {4/8, 5/8} rate 1/2 centre 9/16, {7/8} rate 1
    # (dropped): knots (0, 0), (9/16, 1/2), (1, 1). Fold 0 scored by fold 1's: 2/9, 1/3, 4/7, 5/7; fold 1 by
    # fold 0's: 1/5, 2/5, 7/11, 8/11, 10/11. [0, 0.5): 2/9 (1), 1/3, 1/5, 2/5: |52/45 - 1| = 7/45;
    # [0.5, 1]: 4/7 (1), 5/7 (1), 7/11 (1), 8/11, 10/11 (1): |9/7 + 25/11 - 4| = 34/77. ECE = (7/45 + 34/77) / 9.
    isotonic = (7 / 45 + 34 / 77) / 9
    f0, f1 = _platt_numpy(FOLD0), _platt_numpy(FOLD1)
    platt = _ece([(f1(p), y) for p, y in FOLD0] + [(f0(p), y) for p, y in FOLD1], 2)
    assert choice.held_out_ece == pytest.approx({"none": 5 / 72, "platt": platt, "isotonic": isotonic}, abs=1e-6)
    assert isotonic < 5 / 72 < platt  # 0.0663 < 0.0694 < 0.0962
    assert (choice.method, choice.configured, choice.skipped) == ("isotonic", "auto", {})
    assert choice.params() == {"calibration.chosen": "isotonic"}
    # Refit on all nine rows: 1/8 (0) | 2/8 (1, 0), 3/8 (0) rate 1/3 | 4/8 (1), 5/8 (1, 0) rate 2/3 | 6/8, 7/8 (1).
    # Centres (a mean over rows): 7/24, 7/12; the rate-0 and rate-1 blocks are dropped.
    assert choice.stage.boundaries.toArray().tolist() == pytest.approx([0.0, 7 / 24, 7 / 12, 1.0], abs=1e-15)
    assert choice.stage.predictions.toArray().tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0], abs=1e-15)
    assert choice.metrics() == pytest.approx(
        {
            "calibration_heldout_ece_none": 5 / 72,
            "calibration_heldout_ece_platt": platt,
            "calibration_heldout_ece_isotonic": isotonic,
            "calibration_knots": 4.0,
        },
        abs=1e-6,
    )


def test_a_fixed_method_is_evaluated_alone_and_served(spark):
    df = _scored(spark, FOLD0 + FOLD1, folds=[0] * 4 + [1] * 5)
    choice = choose_calibration(df, CalibrationParams(method="none", folds=2, seed=0), "label", "fold", 2)
    assert (choice.method, choice.held_out_ece) == ("none", pytest.approx({"none": 5 / 72}, abs=1e-12))
    assert _predict(choice.stage, spark, [0.3, 0.7]) == [0.3, 0.7]


def test_methods_that_cannot_be_fitted_out_of_fold_are_skipped(spark):
    # Fold 0 has only negatives: fold 1's stage would be fitted on one class. auto falls back to none.
    # none: [0, 0.5): 0.1, 0.2 (0), 0.3 (1): |0.6 - 1| = 0.4; [0.5, 1]: 0.6, 0.7 (0), 0.9 (1): |2.2 - 1| = 1.2.
    # ECE = 1.6 / 6 = 4/15.
    pairs = [(0.1, 0), (0.6, 0), (0.2, 0), (0.3, 1), (0.7, 0), (0.9, 1)]
    df = _scored(spark, pairs, folds=[0, 0, 1, 1, 1, 1])
    choice = choose_calibration(df, CalibrationParams(method="auto", folds=2, seed=0), "label", "fold", 2)
    assert choice.method == "none"
    assert choice.held_out_ece == pytest.approx({"none": 4 / 15}, abs=1e-12)
    reason = "the rows outside fold(s) [1] have a single class"
    assert choice.skipped == {"platt": reason, "isotonic": reason}
    assert choice.params()["calibration.skipped.isotonic"] == reason


def test_platt_that_would_reverse_the_ranking_is_refused(spark):
    # Higher raw scores are positive less often (rates 4/5 at 0.2, 1/5 at 0.8): the maximum-likelihood slope
    # is negative, which would turn the model's ranking around. fit_platt refuses it; auto skips Platt.
    pairs = [(0.2, 1)] * 4 + [(0.2, 0)] + [(0.8, 1)] + [(0.8, 0)] * 4
    with pytest.raises(ValueError, match="would not keep the ranking"):
        fit_calibrator(_scored(spark, pairs), "platt", "label")
