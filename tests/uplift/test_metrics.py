"""The Spark uplift metrics equal scikit-uplift's on the same rows (sklift is the independent oracle), on
hand-worked small cases, and on rows with tied scores, an empty arm at the top and a negative effect."""

from __future__ import annotations

import numpy as np
import pytest
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

from userscore.uplift.metrics import uplift_metrics


def _frame(spark, y, t, score):
    rows = [(f"u{i:05d}", float(s), int(a), int(o)) for i, (o, a, s) in enumerate(zip(y, t, score, strict=True))]
    return spark.createDataFrame(rows, "user_id string, score double, arm int, outcome int")


def _sklift(y, t, score, k=0.3):
    return (
        qini_auc_score(y, score, t),
        uplift_auc_score(y, score, t),
        uplift_at_k(y, score, t, strategy="overall", k=k),
    )


@pytest.mark.parametrize("case", ["persuadables_first", "ties", "sleeping_dogs"])
def test_metrics_equal_sklift(spark, case):
    rng = np.random.default_rng({"persuadables_first": 1, "ties": 2, "sleeping_dogs": 3}[case])
    n = 3000
    t = rng.integers(0, 2, n)
    effect = rng.normal(0.05, 0.15, n)
    if case == "sleeping_dogs":
        effect -= 0.1  # a contact hurts most users
    base = rng.uniform(0.05, 0.4, n)
    y = (rng.random(n) < np.clip(base + t * effect, 0, 1)).astype(int)
    score = effect + rng.normal(0, 0.1, n)  # a noisy estimate of the true effect
    if case == "ties":
        score = np.round(score, 1)  # a few distinct values: ties move together along the curves
    # Distinct scores: sklift's tie order (reverse input order) and ours (user id) cannot differ at the top k.
    expected = _sklift(y, t, score) if case != "ties" else (*_sklift(y, t, score)[:2], None)
    got = uplift_metrics(_frame(spark, y, t, score), "score", "arm", "outcome", order_by="user_id", k=0.3)
    assert got.qini_coefficient == pytest.approx(expected[0], rel=1e-9)
    assert got.uplift_auc == pytest.approx(expected[1], rel=1e-9)
    if expected[2] is not None:
        assert got.uplift_at_k == pytest.approx(expected[2], rel=1e-9)


def test_hand_worked_qini(spark):
    # Scores 4 > 3 > 2 > 1: (y, t) = (1, 1), (0, 0), (1, 0), (0, 1).
    # Qini points (n, Q): (0, 0), (1, 1 - 0), (2, 1 - 0 * 1/1 = 1), (3, 1 - 1 * 1/2 = 0.5), (4, 1 - 1 * 2/2 = 0):
    # area = 0.5 + 1 + 0.75 + 0.25 = 2.5; baseline to (4, 0): 0.
    # Perfect score y t - y (1 - t) = 1, 0, -1, 0: order (1,1) | (0,0),(0,1) tied | (1,0):
    # points (1, 1), (3, 1 - 0 * 2/1 = 1), (4, 0): area 0.5 + 2 + 0.5 = 3. Coefficient 2.5 / 3.
    y, t, score = [1, 0, 1, 0], [1, 0, 0, 1], [4.0, 3.0, 2.0, 1.0]
    got = uplift_metrics(_frame(spark, y, t, score), "score", "arm", "outcome", order_by="user_id", k=0.5)
    assert got.qini_coefficient == pytest.approx(2.5 / 3)
    # Top int(4 * 0.5) = 2 rows: treated rate 1/1, control rate 0/1.
    assert got.uplift_at_k == pytest.approx(1.0)
    assert got.qini_coefficient == pytest.approx(qini_auc_score(y, score, t))


def _numpy_effect_qini(score, effect):
    """The true-effect Qini in plain numpy: cumulative effect over groups of equal score (highest first),
    trapezoids from (0, 0), against the straight line and the curve of the effect itself."""

    def area(s):
        order = np.argsort(-s, kind="stable")
        s_sorted, e_sorted = s[order], effect[order]
        ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])  # last row of each tie group
        n = np.r_[0, ends + 1].astype(float)
        v = np.r_[0.0, np.cumsum(e_sorted)[ends]]
        return float(np.sum((n[1:] - n[:-1]) * (v[1:] + v[:-1]) / 2))

    baseline = len(effect) * effect.sum() / 2
    return (area(score) - baseline) / (area(effect) - baseline)


def test_true_effect_qini_equals_numpy_and_is_one_for_the_effect_itself(spark):
    from userscore.uplift.metrics import effect_qini

    rng = np.random.default_rng(4)
    effect = np.round(rng.normal(0.03, 0.1, 2000), 3)  # rounded: ties in the perfect ranking too
    score = np.round(effect + rng.normal(0, 0.1, 2000), 2)
    rows = [(float(s), float(e)) for s, e in zip(score, effect, strict=True)]
    df = spark.createDataFrame(rows, "score double, effect double")
    assert effect_qini(df, "score", "effect") == pytest.approx(_numpy_effect_qini(score, effect), abs=1e-9)
    assert effect_qini(df, "effect", "effect") == pytest.approx(1.0, abs=1e-12)
    # Hand-worked: effects [0.3, 0, -0.1], scores rank them [2, 1, 3]: curve 0, 0 (after 0), 0.3, 0.2 ...
    small = spark.createDataFrame([(2.0, 0.3), (3.0, 0.0), (1.0, -0.1)], "score double, effect double")
    # by score: 0.0, 0.3, -0.1 -> points (1, 0), (2, 0.3), (3, 0.2): area 0 + 0.15 + 0.25 = 0.4
    # perfect: 0.3, 0.0, -0.1 -> (1, 0.3), (2, 0.3), (3, 0.2): 0.15 + 0.3 + 0.25 = 0.7; line: 3 x 0.2 / 2 = 0.3
    assert effect_qini(small, "score", "effect") == pytest.approx((0.4 - 0.3) / (0.7 - 0.3), abs=1e-12)
