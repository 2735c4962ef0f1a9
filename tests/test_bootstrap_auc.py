"""scripts/bootstrap_auc.py: weighted AUC by hand, Poisson weights and paired intervals in plain Python."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys

import numpy as np
import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("bootstrap_auc", REPO / "scripts" / "bootstrap_auc.py")
bootstrap = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bootstrap
_spec.loader.exec_module(bootstrap)


def _poisson(u: float) -> int:
    k, cdf = 0, math.exp(-1.0)
    while u >= cdf and k < 12:
        k += 1
        cdf += math.exp(-1.0) / math.factorial(k)
    return k


def _weight(salt: str, user: str, replicate: int) -> int:
    u = int(hashlib.md5(f"{salt}|{user}|{replicate}".encode()).hexdigest()[:8], 16) / 2**32
    return _poisson(u)


def _auc(rows, weights) -> float:
    """Weighted AUC over every (positive, negative) pair, ties half."""
    num = den = 0.0
    for (s1, y1), w1 in zip(rows, weights, strict=True):
        for (s0, y0), w0 in zip(rows, weights, strict=True):
            if y1 == 1 and y0 == 0:
                den += w1 * w0
                num += w1 * w0 * (1.0 if s1 > s0 else 0.5 if s1 == s0 else 0.0)
    return num / den


def test_weighted_auc_worked_by_hand(spark):
    from pyspark.sql import functions as F

    # Positives score 3 (weight 2) and 2 (weight 1), negatives 2 (weight 1) and 1 (weight 3): pairs
    # (3,2) 2x1, (3,1) 2x3, (2,2) tie 1x1 x 0.5, (2,1) 1x3 -> 11.5 of 3 x 4 = 12.
    rows = spark.createDataFrame(
        [("a", 1, 3.0, 2.0), ("b", 1, 2.0, 1.0), ("c", 0, 2.0, 1.0), ("d", 0, 1.0, 3.0)],
        "user_id string, y int, s double, _w double",
    ).withColumn("g", F.lit(0))
    got = bootstrap.weighted_aucs(rows, ["s"], "y", "g").first()["s"]
    assert got == pytest.approx(11.5 / 12, abs=1e-12)


def test_intervals_match_plain_python_replicates(spark):
    data = [(f"u{i}", i % 3 == 0, float((i * 7) % 11), float((i * 5) % 13)) for i in range(30)]
    frame = spark.createDataFrame(
        [(u, int(y), a, b) for u, y, a, b in data], "user_id string, label int, a double, b double"
    )
    singles, pairs = bootstrap.bootstrap_aucs(frame, ["a", "b"], "label", replicates=40, salt="t")
    per = {"a": [], "b": []}
    for r in range(40):
        weights = [_weight("t", u, r) for u, *_ in data]
        for name, col in (("a", 2), ("b", 3)):
            per[name].append(_auc([(row[col], int(row[1])) for row in data], weights))
    ones = [1] * len(data)
    for name, col in (("a", 2), ("b", 3)):
        low, high = np.percentile(per[name], [2.5, 97.5])
        point = _auc([(row[col], int(row[1])) for row in data], ones)
        got = singles[name]
        assert (got.estimate, got.low, got.high) == pytest.approx((point, low, high), abs=1e-12)
    diffs = np.array(per["a"]) - np.array(per["b"])
    low, high = np.percentile(diffs, [2.5, 97.5])
    got = pairs[("a", "b")]
    assert (got.low, got.high) == pytest.approx((low, high), abs=1e-12)
    assert got.estimate == pytest.approx(singles["a"].estimate - singles["b"].estimate, abs=1e-12)


def test_poisson_weights_follow_the_inverse_cdf():
    # P(X = 0) = e^-1 = 0.3679, P(X <= 1) = 0.7358, P(X <= 2) = 0.9197.
    assert [_poisson(u) for u in (0.0, 0.3678, 0.3680, 0.7357, 0.7359, 0.9196, 0.9198)] == [0, 0, 1, 1, 2, 2, 3]
    assert bootstrap._POISSON_CDF[:3] == pytest.approx((0.36787944, 0.73575888, 0.91969860), abs=1e-8)
