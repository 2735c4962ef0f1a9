"""Validation metrics against plain-Python computations over the same rows."""

from __future__ import annotations

import math

import pytest

from tests.base_config import base_config, replaced
from userscore.config.bands import Band
from userscore.models.evaluation import evaluate, tier_consistent

# 23 distinct scores (no score on a bin edge) and their labels.
SCORES = [0.02, 0.05, 0.08, 0.11, 0.15, 0.19, 0.22, 0.26, 0.29, 0.31, 0.35, 0.38, 0.42, 0.47, 0.51, 0.55, 0.61,
          0.66, 0.72, 0.75, 0.81, 0.88, 0.95]  # fmt: skip
LABELS = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1]
TIERS = (Band(name="high", min=0.7), Band(name="mid", min=0.3), Band(name="low"))
ROWS = list(zip(SCORES, LABELS, strict=True))
P = sum(LABELS)
N = len(ROWS)


def _auc() -> float:
    pos = [s for s, y in ROWS if y]
    neg = [s for s, y in ROWS if not y]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def _pr_curve_area() -> float:
    """Spark's definition: (recall, precision) at each threshold from the top, starting at (0, first precision)."""
    points, tp, fp = [], 0, 0
    for _, y in sorted(ROWS, reverse=True):
        tp, fp = tp + y, fp + (1 - y)
        points.append((tp / P, tp / (tp + fp)))
    points = [(0.0, points[0][1]), *points]
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False))


def _ks() -> float:
    best = 0.0
    for t, _ in ROWS:
        tpr = sum(1 for s, y in ROWS if y and s >= t) / P
        fpr = sum(1 for s, y in ROWS if not y and s >= t) / (N - P)
        best = max(best, abs(tpr - fpr))
    return best


def _ece(bins: int = 10) -> float:
    total = 0.0
    for b in range(bins):
        members = [(s, y) for s, y in ROWS if min(int(s * bins), bins - 1) == b]
        if members:
            mean_s = sum(s for s, _ in members) / len(members)
            rate = sum(y for _, y in members) / len(members)
            total += len(members) / N * abs(mean_s - rate)
    return total


def _deciles() -> dict[int, tuple[int, int]]:
    ordered = sorted(SCORES)
    cuts = [ordered[math.ceil(q / 10 * N) - 1] for q in range(1, 10)]
    out: dict[int, tuple[int, int]] = {}
    for s, y in ROWS:
        d = 10 - sum(1 for c in cuts if c < s)
        n, p = out.get(d, (0, 0))
        out[d] = (n + 1, p + y)
    return out


def test_metrics_equal_plain_python_over_the_same_rows(spark):
    scored = spark.createDataFrame(ROWS, "score double, label int").cache()
    config = replaced(base_config().models.evaluation, ece_bins=10, curve_bins=10_000, quantile_relative_error=0.0)
    ev = evaluate(scored, "score", "label", TIERS, config)
    m = ev.metrics
    assert m["rows"] == N and m["positive_rate"] == pytest.approx(P / N)
    assert m["auc"] == pytest.approx(_auc(), abs=1e-12)
    assert m["auc_pr"] == pytest.approx(_pr_curve_area(), abs=1e-12)
    assert m["ks"] == pytest.approx(_ks(), abs=1e-12)
    assert m["brier"] == pytest.approx(sum((s - y) ** 2 for s, y in ROWS) / N, abs=1e-12)
    assert m["ece"] == pytest.approx(_ece(), abs=1e-12)
    for name, t in (("mid", 0.3), ("high", 0.7)):
        tp = sum(1 for s, y in ROWS if s >= t and y)
        pp = sum(1 for s, _ in ROWS if s >= t)
        tn = sum(1 for s, y in ROWS if s < t and not y)
        assert (m[f"precision_at_{name}"], m[f"recall_at_{name}"], m[f"accuracy_at_{name}"]) == pytest.approx(
            (tp / pp, tp / P, (tp + tn) / N)
        )
    deciles = _deciles()
    base = P / N
    cum_p = 0
    for d in ev.deciles:
        n, p = deciles.get(d["decile"], (0, 0))
        cum_p += p
        assert (d["rows"], d["positives"]) == (n, p)
        assert d["lift"] == pytest.approx((p / n) / base if n else 0.0)
        assert d["cumulative_gain"] == pytest.approx(cum_p / P)
    assert sum(d["rows"] for d in ev.deciles) == N
    tiers = {t["tier"]: (t["rows"], t["positives"]) for t in ev.tiers}
    assert tiers == {
        "low": (sum(1 for s, _ in ROWS if s < 0.3), sum(y for s, y in ROWS if s < 0.3)),
        "mid": (sum(1 for s, _ in ROWS if 0.3 <= s < 0.7), sum(y for s, y in ROWS if 0.3 <= s < 0.7)),
        "high": (sum(1 for s, _ in ROWS if s >= 0.7), sum(y for s, y in ROWS if s >= 0.7)),
    }
    # ROC points walk from (0, 0) to (1, 1).
    assert ev.roc[0] == (0.0, 0.0) and ev.roc[-1] == pytest.approx((1.0, 1.0))


def test_tier_consistency_allows_sampling_noise_only():
    assert tier_consistent(0.5, 100, 0.3, 0.7)
    # 0.28 over 1000 rows: 0.02 below 0.3, margin 1.96 * sqrt(0.21 / 1000) = 0.0284 -> consistent.
    assert tier_consistent(0.28, 1000, 0.3, 0.7)
    # 0.25 over 10000 rows: margin 0.009 -> not consistent.
    assert not tier_consistent(0.25, 10_000, 0.3, 0.7)
    assert tier_consistent(0.0, 0, 0.7, 1.0)
