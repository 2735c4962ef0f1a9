"""Compiled champions (scoring.compiled) score like their Spark pipelines.

The reference is MLlib itself: the same fitted PipelineModel's ``transform`` for the probabilities, and
the vector-based Saabas route (saabas.saabas over the assembled vector MLlib builds) for the reasons.
The data has what production sees: nulls and NaN in imputed and non-imputed numbers, an integer column
imputed with a non-integer mean, unseen and null categories, and every calibration (centred isotonic, Platt,
and none, which is the identity isotonic model). An uplift pipeline (two arm GBTs after the same
preparation, userscore.uplift.model) is held to MLlib's p_treated - p_control the same way.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.feature import Imputer, OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array

from userscore.config.scoring import ReasonsConfig
from userscore.models.calibration import fit_calibrator
from userscore.scoring.compiled import (
    Calibration,
    CompiledModel,
    CompiledUplift,
    NumericBlock,
    OneHotBlock,
    compile_pipeline,
    compile_uplift,
    score_batch,
)
from userscore.scoring.ensemble import ensemble_from_nodes
from userscore.scoring.gbt_trees import gbt_ensemble
from userscore.scoring.saabas import saabas
from userscore.uplift.model import CONTROL_PROBABILITY, TREATED_PROBABILITY, served_pipeline

LEVELS = ("basic", "silver", "gold")
CHANNELS = ("app", "web", "store", "mini")
REASONS = ReasonsConfig(top_k=3, decimals=2)
SCHEMA = "user_id string, spend double, visits double, orders int, trend double, level string, channel string"


def _rows(n: int, seed: int, unseen: bool) -> list[tuple]:
    """Random users; every 7th spend null, every 11th NaN, every 5th orders null, every 13th level null.
    ``unseen`` (scoring rows): categories the model never saw, and every 9th trend NaN (not imputed:
    GBT training refuses NaN, scoring passes it down the trees' right branches)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        spend = None if i % 7 == 0 else (math.nan if i % 11 == 0 else float(np.round(rng.exponential(300), 2)))
        orders = None if i % 5 == 0 else int(rng.integers(0, 9))
        trend = math.nan if unseen and i % 9 == 0 else float(np.round(rng.uniform(0, 3), 3))
        level = None if i % 13 == 0 else str(rng.choice(LEVELS + (("diamond",) if unseen else ())))
        channel = str(rng.choice(CHANNELS + (("kiosk",) if unseen else ())))
        rows.append((f"u{i:04d}", spend, float(rng.integers(0, 30)), orders, trend, level, channel))
    return rows


def _label(row: tuple, noise: float) -> float:
    _, spend, visits, orders, _, level, channel = row
    score = (0 if spend is None or math.isnan(spend) else spend / 300) + visits / 10 + (orders or 0) / 3
    score += {"gold": 1.5, "silver": 0.5}.get(level, 0) + (0.7 if channel == "app" else 0) + noise
    return float(score > 3.2)


def _effect(row: tuple) -> float:
    """What a contact adds to the label's score: app users are persuaded, gold members put off."""
    _, _, _, _, _, level, channel = row
    return 1.2 if channel == "app" else (-0.8 if level == "gold" else 0.0)


@pytest.fixture(scope="module")
def pipelines(spark):
    """Three served pipelines on the same prep and GBT: isotonic, Platt and no calibration; and an uplift
    pipeline on the same prep: a GBT per arm (every second user contacted, the contact's effect added)."""
    rng, arm_rng = np.random.default_rng(5), np.random.default_rng(6)
    train_rows = _rows(600, seed=1, unseen=False)
    arm_labels = [(i % 2, _label(r, arm_rng.normal() + _effect(r) * (i % 2))) for i, r in enumerate(train_rows)]
    train = spark.createDataFrame(
        [(*r, _label(r, rng.normal()), *arm) for r, arm in zip(train_rows, arm_labels, strict=True)],
        f"{SCHEMA}, label double, treated int, arm_label double",
    ).repartition(2)
    prep = Pipeline(
        stages=[
            Imputer(inputCols=["spend", "visits"], outputCols=["_imp_spend", "_imp_visits"], strategy="median"),
            Imputer(inputCols=["orders"], outputCols=["_imp_orders"], strategy="mean"),
            StringIndexer(inputCols=["level", "channel"], outputCols=["_idx_level", "_idx_channel"],
                          handleInvalid="keep"),
            OneHotEncoder(inputCols=["_idx_level", "_idx_channel"], outputCols=["_ohe_level", "_ohe_channel"],
                          handleInvalid="keep"),
            VectorAssembler(inputCols=["_imp_spend", "_ohe_level", "_imp_visits", "trend", "_imp_orders",
                                       "_ohe_channel"], outputCol="features", handleInvalid="keep"),
        ]
    ).fit(train)  # fmt: skip
    assembled = prep.transform(train)
    gbt = GBTClassifier(maxIter=12, maxDepth=4, minInstancesPerNode=5, seed=3).fit(assembled)
    gbt.setPredictionCol("")
    scored = gbt.transform(assembled)
    served = {}
    for method in ("isotonic", "platt", "none"):
        calibrator = fit_calibrator(scored, method, "label")
        served[method] = PipelineModel(stages=[*prep.stages, gbt, calibrator])
    arms = [
        GBTClassifier(maxIter=8, maxDepth=4, minInstancesPerNode=5, seed=3, labelCol="arm_label").fit(
            assembled.where(f"treated = {t}")
        )
        for t in (1, 0)
    ]
    served["uplift"] = served_pipeline(prep, *arms)
    return served


def _batch(frame: pd.DataFrame) -> tuple[dict, dict]:
    numeric = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in ("spend", "visits", "orders", "trend")}
    return numeric, {c: frame[c] for c in ("level", "channel")}


@pytest.mark.parametrize("method", ["isotonic", "platt", "none"])
def test_probabilities_and_reasons_equal_the_spark_pipeline(spark, pipelines, method):
    model = pipelines[method]
    compiled = compile_pipeline(model)
    assert compiled is not None
    assert compiled.names == ("spend", "level", "visits", "trend", "orders", "channel")
    # "none" is served as the isotonic model through (0, 0) and (1, 1).
    assert compiled.calibration.method == {"none": "isotonic"}.get(method, method)
    # The integer column's imputed value is the mean truncated, as Spark casts it back to int.
    orders = next(b for b in compiled.blocks if b.column == "orders")
    assert orders.surrogate != math.trunc(orders.surrogate)

    score = spark.createDataFrame(_rows(400, seed=2, unseen=True), SCHEMA)
    spark_rows = (
        model.transform(score)
        .select("user_id", "prediction", vector_to_array("features").alias("x"))
        .orderBy("user_id")
        .toPandas()
    )
    frame = score.orderBy("user_id").toPandas()
    numeric, strings = _batch(frame)
    out = score_batch([("m", compiled)], numeric, strings, integral={"orders"}, reasons=REASONS)

    np.testing.assert_allclose(out["m_p"], spark_rows["prediction"].to_numpy(), rtol=0, atol=1e-12)
    # The matrix the compiled model builds is the vector MLlib assembles, slot for slot.
    x, groups = compiled.matrix(numeric, strings, {"orders"})
    spark_x = np.vstack(spark_rows["x"].to_numpy())
    np.testing.assert_array_equal(x, spark_x)
    # Reasons: the vector route's contributions per source column, ranked and written in plain Python.
    per_column = saabas(gbt_ensemble(model.stages[-2]), spark_x, groups, len(compiled.names))
    expected = _expected_reasons(per_column, compiled.names)
    assert out["m_reasons"].tolist() == expected
    assert sum(t is None for t in expected) < len(expected)


def _expected_reasons(per_column: np.ndarray, names: tuple[str, ...]) -> list[str | None]:
    """The top 3 |contributions| per row written in plain Python (stable sort: ties by column order)."""
    expected = []
    for row in per_column.tolist():
        ranked = sorted(range(len(row)), key=lambda i: -abs(row[i]))[:3]
        parts = [f"{names[i]} ({row[i]:+.2f})" for i in ranked if abs(row[i]) > 1e-12]
        expected.append("; ".join(parts) or None)
    return expected


def test_uplift_and_reasons_equal_the_spark_pipeline(spark, pipelines):
    model = pipelines["uplift"]
    compiled = compile_uplift(model)
    assert isinstance(compiled, CompiledUplift)
    assert compiled.names == ("spend", "level", "visits", "trend", "orders", "channel")

    score = spark.createDataFrame(_rows(400, seed=2, unseen=True), SCHEMA)
    spark_rows = (
        model.transform(score)
        .select(
            "user_id",
            vector_to_array(TREATED_PROBABILITY)[1].alias("p_treated"),
            vector_to_array(CONTROL_PROBABILITY)[1].alias("p_control"),
            vector_to_array("features").alias("x"),
        )
        .orderBy("user_id")
        .toPandas()
    )
    frame = score.orderBy("user_id").toPandas()
    numeric, strings = _batch(frame)
    # Scored next to a target's model, as the fused pass does: each keeps its own outputs.
    target = compile_pipeline(pipelines["platt"])
    out = score_batch([("m", target), ("u", compiled)], numeric, strings, integral={"orders"}, reasons=REASONS)
    assert set(out) == {"m_p", "m_reasons", "u_uplift", "u_p_control", "u_reasons"}

    p_treated, p_control = spark_rows["p_treated"].to_numpy(), spark_rows["p_control"].to_numpy()
    np.testing.assert_allclose(out["u_uplift"], p_treated - p_control, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["u_p_control"], p_control, rtol=0, atol=1e-12)
    assert (p_treated - p_control).min() < 0 < (p_treated - p_control).max()  # both directions occur
    x, groups = compiled.matrix(numeric, strings, {"orders"})
    spark_x = np.vstack(spark_rows["x"].to_numpy())
    np.testing.assert_array_equal(x, spark_x)
    # Reasons: each arm's GBT explained on MLlib's vector on its own, the control arm's credits subtracted.
    treated, control = (
        saabas(gbt_ensemble(stage), spark_x, groups, len(compiled.names)) for stage in model.stages[-3:-1]
    )
    expected = _expected_reasons(treated - control, compiled.names)
    assert out["u_reasons"].tolist() == expected
    assert sum(t is None for t in expected) < len(expected)
    # What docs/scoring.md says they add up to: the arms' log-odds difference less the roots' difference.
    roots = gbt_ensemble(model.stages[-3]).bias - gbt_ensemble(model.stages[-2]).bias
    logit_gap = np.log(p_treated / (1 - p_treated)) - np.log(p_control / (1 - p_control))
    np.testing.assert_allclose((treated - control).sum(axis=1), logit_gap - roots, rtol=0, atol=1e-9)


def test_uplift_pipelines_with_other_stages_are_not_compiled(pipelines):
    from pyspark.ml.feature import StandardScaler

    uplift, target = pipelines["uplift"], pipelines["isotonic"]
    assert compile_uplift(target) is None and compile_pipeline(uplift) is None  # not each other's form
    scaler = StandardScaler(inputCol="features", outputCol="scaled")
    assert compile_uplift(PipelineModel(stages=[*uplift.stages[:-3], scaler, *uplift.stages[-3:]])) is None
    arms = uplift.stages[-3:-1]  # then the difference stage
    assert compile_uplift(PipelineModel(stages=[*uplift.stages[:-3], arms[0]])) is None  # no control arm
    assert compile_uplift(PipelineModel(stages=uplift.stages[:-1])) is not None  # the difference is optional
    strict = uplift.stages[2].copy().setHandleInvalid("error")
    assert compile_uplift(PipelineModel(stages=[*uplift.stages[:2], strict, *uplift.stages[3:]])) is None


def test_probabilities_only_and_an_empty_batch(spark, pipelines):
    compiled = compile_pipeline(pipelines["isotonic"])
    frame = spark.createDataFrame(_rows(50, seed=4, unseen=True), SCHEMA).toPandas()
    numeric, strings = _batch(frame)
    with_reasons = score_batch([("m", compiled)], numeric, strings, {"orders"}, REASONS)
    without = score_batch([("m", compiled)], numeric, strings, {"orders"}, None)
    assert list(without) == ["m_p"]
    np.testing.assert_array_equal(without["m_p"], with_reasons["m_p"])
    empty = score_batch([("m", compiled)], *_batch(frame.iloc[:0]), {"orders"}, REASONS)
    assert {k: len(v) for k, v in empty.items()} == {"m_p": 0, "m_reasons": 0}


def test_pipelines_with_other_stages_are_not_compiled(pipelines):
    from pyspark.ml.feature import StandardScaler

    isotonic = pipelines["isotonic"]
    scaler = StandardScaler(inputCol="features", outputCol="scaled")
    assert compile_pipeline(PipelineModel(stages=[*isotonic.stages[:-2], scaler, *isotonic.stages[-2:]])) is None
    assert compile_pipeline(PipelineModel(stages=isotonic.stages[:-1])) is None  # no calibration
    strict = isotonic.stages[2].copy().setHandleInvalid("error")  # StringIndexer that fails on unseen values
    assert compile_pipeline(PipelineModel(stages=[*isotonic.stages[:2], strict, *isotonic.stages[3:]])) is None


def test_isotonic_calibration_worked_by_hand():
    calibration = Calibration("isotonic", boundaries=(0.2, 0.4, 0.8), predictions=(0.1, 0.3, 0.9))
    p = np.array([0.0, 0.2, 0.3, 0.4, 0.5, 0.8, 0.95])
    # below the first breakpoint: 0.1; exact hits; (0.3: halfway 0.1 -> 0.3); (0.5: a quarter of 0.3 -> 0.9)
    np.testing.assert_allclose(calibration.apply(p), [0.1, 0.1, 0.2, 0.3, 0.45, 0.9, 0.9], rtol=0, atol=1e-15)
    # One ulp from a breakpoint (where Spark's raw probability is the breakpoint itself): its value exactly.
    assert calibration.apply(np.array([np.nextafter(0.4, 0.0), np.nextafter(0.4, 1.0)])).tolist() == [0.3, 0.3]


def test_platt_calibration_worked_by_hand():
    calibration = Calibration("platt", slope=2.0, intercept=-1.0)
    p = np.array([0.5, 0.8, 0.0])
    # logit(0.5) = 0 -> sigmoid(-1); logit(0.8) = ln 4 -> sigmoid(2 ln 4 - 1) = 16 / (16 + e);
    # 0 is clipped to 1e-7 first.
    clipped = math.log(1e-7 / (1 - 1e-7))
    want = [1 / (1 + math.e), 16 / (16 + math.e), 1 / (1 + math.exp(-(2 * clipped - 1)))]
    np.testing.assert_allclose(calibration.apply(p), want, rtol=1e-14)


def test_blocks_impute_and_encode_as_spark_does():
    imputed = NumericBlock("n", surrogate=2.7)
    x = np.array([np.nan, 1.0, 4.0])
    np.testing.assert_array_equal(imputed.values(x, integral=True), [2.0, 1.0, 4.0])
    np.testing.assert_array_equal(imputed.values(x, integral=False), [2.7, 1.0, 4.0])
    np.testing.assert_array_equal(NumericBlock("n").values(x, integral=False), x)
    sentinel = NumericBlock("n", surrogate=0.5, missing=-1.0)
    np.testing.assert_array_equal(sentinel.values(np.array([-1.0, np.nan, 3.0]), False), [0.5, 0.5, 3.0])
    # Labels a, b, and an encoder that saw 2 categories: the indexer gives null and unseen values index 2,
    # outside the encoder's categories, so they become its invalid category 2, past the 2 slots it keeps.
    block = OneHotBlock("c", labels=("a", "b"), category_size=2, width=2)
    np.testing.assert_array_equal(block.indices(pd.Series(["b", None, "z", "a"])), [1, 2, 2, 0])
    x, groups = CompiledModel((block,), _stump(2), Calibration("platt")).matrix(
        {}, {"c": pd.Series(["b", None, "a"])}, set()
    )
    np.testing.assert_array_equal(x, [[0, 1], [0, 0], [1, 0]])


def _stump(num_features: int):
    """A one-leaf tree over ``num_features`` slots (the matrix test needs only the slot count)."""
    return ensemble_from_nodes([[{"id": 0, "prediction": 0.0, "leftChild": -1, "rightChild": -1}]], [1.0], num_features)
