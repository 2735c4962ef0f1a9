"""Saabas path attributions: a hand-worked two-tree ensemble, and exact additivity on real Spark GBTs."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from tests.scoring.conftest import features_frame
from userscore.scoring.ensemble import ensemble_from_nodes
from userscore.scoring.gbt_trees import _nodes_via_json, _nodes_via_walk, gbt_ensemble
from userscore.scoring.reasons import Explainer, number_texts, reason_texts, reasons_text, top_k
from userscore.scoring.saabas import saabas


def _leaf(node_id: int, value: float) -> dict:
    return {"id": node_id, "prediction": value, "leftChild": -1, "rightChild": -1, "split": {"featureIndex": -1}}


def _split(node_id, value, feature, bound, left, right, categories=-1) -> dict:
    split = {"featureIndex": feature, "leftCategoriesOrThreshold": bound, "numCategories": categories}
    return {"id": node_id, "prediction": value, "leftChild": left, "rightChild": right, "split": split}


# Tree A (weight 1): f0 <= 1 ? (f1 <= 0.5 ? 0.0 : 0.6) : 0.9, node means 0.5 (root) and 0.2.
TREE_A = [_split(0, 0.5, 0, [1.0], 1, 2), _split(1, 0.2, 1, [0.5], 3, 4), _leaf(2, 0.9), _leaf(3, 0.0), _leaf(4, 0.6)]
# Tree B (weight 0.5): f2 in {1} ? 0.3 : -0.1 (a categorical split with 2 categories), root mean 0.1.
TREE_B = [_split(0, 0.1, 2, [1.0], 1, 2, categories=2), _leaf(1, 0.3), _leaf(2, -0.1)]
X = np.array([[0.5, 0.7, 1.0], [2.0, 0.0, 0.0]])


@pytest.fixture
def hand_ensemble():
    return ensemble_from_nodes([TREE_A, TREE_B], [1.0, 0.5], num_features=3, scale=2.0)


def test_hand_worked_saabas_contributions(hand_ensemble):
    # Row 1: A goes 0 -> 1 (f0: 0.2 - 0.5) -> 4 (f1: 0.6 - 0.2); B goes left (f2: 0.5 * (0.3 - 0.1)).
    # Row 2: A goes 0 -> 2 (f0: 0.9 - 0.5); B goes right (f2: 0.5 * (-0.1 - 0.1)). All scaled by 2.
    expected = np.array([[-0.6, 0.8, 0.2], [0.8, 0.0, -0.2]])
    np.testing.assert_allclose(saabas(hand_ensemble, X), expected, atol=1e-12)
    assert hand_ensemble.bias == pytest.approx(2 * (0.5 + 0.5 * 0.1))
    # Locally exact: bias + contributions = 2 x the weighted leaf values (0.6 + 0.5 * 0.3, 0.9 + 0.5 * -0.1).
    np.testing.assert_allclose(hand_ensemble.bias + saabas(hand_ensemble, X).sum(axis=1), [1.5, 1.7])


def test_grouping_and_top_k_order_by_absolute_contribution(hand_ensemble):
    per_column = saabas(hand_ensemble, X, np.array([0, 1, 1]), 2)
    np.testing.assert_allclose(per_column, [[-0.6, 1.0], [0.8, -0.2]], atol=1e-12)
    index, value = top_k(per_column, 2)
    assert index.tolist() == [[1, 0], [0, 1]]
    np.testing.assert_allclose(value, [[1.0, -0.6], [0.8, -0.2]], atol=1e-12)


def test_reasons_udf_formats_top_contributions(spark, hand_ensemble):
    explainer = Explainer(hand_ensemble, (0, 1, 1), ("recency_days", "member_level"))
    frame = spark.createDataFrame(
        [
            ("a", Vectors.dense(X[0].tolist())),
            ("b", Vectors.dense(X[1].tolist())),
            ("c", Vectors.dense([0.5, 0.0, 1.0])),
        ],
        ["user_id", "features"],
    )
    text = reasons_text(explainer, F.col("features"), 3, 2)
    got = {r["user_id"]: r["reasons"] for r in frame.select("user_id", text.alias("reasons")).collect()}
    # Row c: A goes 0 -> 1 -> 3 (f0: -0.3, f1: 0.0 - 0.2), B left (f2 +0.1); x2: member_level = -0.4 + 0.2 = -0.2.
    assert got == {
        "a": "member_level (+1.00); recency_days (-0.60)",
        "b": "recency_days (+0.80); member_level (-0.20)",
        "c": "recency_days (-0.60); member_level (-0.20)",
    }


def test_real_gbt_contributions_add_up_to_spark_margin(spark, champion_store, config):
    """For every user: 2 x Spark's GBT margin (= logit of its raw probability) = bias + sum of contributions.
    The JSON extraction and the public Node-API walk give the same trees."""
    _, rows, models = champion_store
    model = models["churn_60d"]
    gbt = model.stages[-2]
    prepared = model.stages[0].transform(features_frame(spark, config, rows))
    for stage in model.stages[1:-2]:
        prepared = stage.transform(prepared)
    scored = gbt.transform(prepared).select(
        vector_to_array("features").alias("x"), vector_to_array("rawPrediction")[1].alias("margin")
    )
    data = scored.collect()
    x = np.array([r["x"] for r in data])
    margin = np.array([r["margin"] for r in data])
    ensemble = gbt_ensemble(gbt)
    np.testing.assert_allclose(ensemble.bias + saabas(ensemble, x).sum(axis=1), 2 * margin, atol=1e-9)

    java_trees = list(gbt._java_obj.trees())
    walked = ensemble_from_nodes(
        [_nodes_via_walk(t.rootNode()) for t in java_trees], list(gbt.treeWeights), gbt.numFeatures, 2.0
    )
    fast = ensemble_from_nodes(_nodes_via_json(java_trees), list(gbt.treeWeights), gbt.numFeatures, 2.0)
    np.testing.assert_allclose(saabas(walked, x), saabas(fast, x), atol=1e-12)


def test_a_split_on_more_than_two_categories_goes_left_for_its_left_categories():
    # f0 in {0, 2} ? 1.0 : -1.0 (3 categories), root mean 0; f0 = 1, an unknown category 5, a negative
    # value and NaN go right.
    tree = [_split(0, 0.0, 0, [0.0, 2.0], 1, 2, categories=3), _leaf(1, 1.0), _leaf(2, -1.0)]
    ensemble = ensemble_from_nodes([tree], [1.0], num_features=1)
    x = np.array([[0.0], [1.0], [2.0], [5.0], [-1.0], [np.nan]])
    np.testing.assert_allclose(saabas(ensemble, x)[:, 0], [1.0, -1.0, 1.0, -1.0, -1.0, -1.0])


def test_a_continuous_split_sends_values_at_the_threshold_left_and_nan_right():
    # f1 <= 0.5 ? 0.75 : -0.25, root mean 0.25 (f0 is never split on).
    tree = [_split(0, 0.25, 1, [0.5], 1, 2), _leaf(1, 0.75), _leaf(2, -0.25)]
    ensemble = ensemble_from_nodes([tree], [1.0], num_features=2)
    x = np.array([[9.0, 0.5], [9.0, 0.5000001], [9.0, np.nan], [np.nan, -3.0]])
    np.testing.assert_allclose(saabas(ensemble, x), [[0.0, 0.5], [0.0, -0.5], [0.0, -0.5], [0.0, 0.5]])


def test_number_texts_round_half_away_from_zero_and_always_write_the_sign():
    # Halves of value x 10^decimals, in double precision, go away from zero: 0.125 and 2.5 (exact in binary)
    # and 2.675 (stored just below 2.675, but 2.675 x 100 is 267.5 in doubles); 1.005 x 100 is
    # 100.49999999999999: down.
    values = np.array([0.0, 0.125, -0.125, 2.675, 1.005, -0.004, 0.005000001, 999.994, 999.995, 12345.678, 2.5])
    expected2 = ["+0.00", "+0.13", "-0.13", "+2.68", "+1.00", "-0.00", "+0.01", "+999.99", "+1000.00", "+12345.68",
                 "+2.50"]  # fmt: skip
    assert number_texts(values, 2).tolist() == expected2
    assert number_texts(values, 0).tolist() == ["+0", "+0", "-0", "+3", "+1", "-0", "+0", "+1000", "+1000", "+12346",
                                                "+3"]  # fmt: skip
    # The same as Python's decimal module, rounding the exact binary value half up, on random values.
    rng = np.random.default_rng(7)
    sample = rng.normal(scale=3.0, size=2000)
    exact = [("-" if v < 0 else "+") + str(Decimal(abs(v)).quantize(Decimal("0.001"), ROUND_HALF_UP)) for v in sample]
    assert number_texts(sample.reshape(40, 50), 3).ravel().tolist() == exact


def test_reason_texts_name_the_largest_contributions_and_skip_the_absent():
    per_column = np.array([[0.0, 0.0, 0.0], [0.004, -0.5, 0.0], [0.3, -0.3, 0.31]])
    texts = reason_texts(per_column, ("recency", "level", "visits"), k=2, decimals=2)
    # Row 3: |0.31| first, then the tie |0.3| = |-0.3| goes to the lower column index.
    assert texts.tolist() == [None, "level (-0.50); recency (+0.00)", "visits (+0.31); recency (+0.30)"]
