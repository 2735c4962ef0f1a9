"""Saabas path attributions: a hand-worked two-tree ensemble, and exact additivity on real Spark GBTs."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from tests.scoring.conftest import features_frame
from userscore.scoring.reasons import (
    Explainer,
    _nodes_via_json,
    _nodes_via_walk,
    ensemble_from_nodes,
    format_reasons,
    gbt_ensemble,
    number_text,
    reasons_struct,
    saabas,
    top_k,
)


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
    struct = reasons_struct(explainer, F.col("features"), 3)
    text = format_reasons(struct, explainer.names, 3, 2)
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


def test_number_text_writes_what_java_formatter_writes(spark):
    # Halves in decimal (1.005, 2.675 and 0.125 are not exact in binary), the sign of values that round to
    # zero, and large values: compared with Java's own %+.2f and %+.1f.
    values = [0.0, 0.005, -0.005, 0.004999, -0.004, 1.005, 2.675, -2.675, 0.125, -0.125, 123456.785, 1e-9, 7.0]
    frame = spark.createDataFrame([(v,) for v in values], "x double")
    x = F.col("x")
    rows = frame.select(
        number_text(x, 2).alias("ours2"),
        F.format_string("%+.2f", x).alias("java2"),
        number_text(x, 1).alias("ours1"),
        F.format_string("%+.1f", x).alias("java1"),
    ).collect()
    assert [(r.ours2, r.ours1) for r in rows] == [(r.java2, r.java1) for r in rows]
    assert [r.ours2 for r in rows][:3] == ["+0.00", "+0.01", "-0.01"]
