"""The naive baselines: which are evaluated or skipped, and their exact AUC on hand-worked rows."""

from __future__ import annotations

import math

import pytest

from tests.base_config import target_config
from userscore.config.models import LabelRule
from userscore.config.params import BaselineSpec
from userscore.errors import InputError
from userscore.models.baselines import Baseline, Baselines, available, evaluate_baselines

ROWS = "label int, recency_days int, rfm_score double, bgnbd_p_alive double, rfm_segment string"
# (label, recency_days, rfm_score, bgnbd_p_alive, rfm_segment); u2 and u3 tie on both numbers.
DATA = [
    (1, 5, 4.0, None, "a"),  # u1
    (1, 10, 3.0, None, "a"),  # u2
    (0, 10, 3.0, None, "b"),  # u3
    (0, 40, None, None, "b"),  # u4
    (1, None, 1.0, None, "c"),  # u5
    (0, 30, 2.0, None, "c"),  # u6
]


def _target(**baselines: BaselineSpec):
    return target_config(
        horizon_days=30, label=LabelRule(kind="any_order_within", include_refunded=False), baselines=baselines
    )


def _mann_whitney(scores: list[float], labels: list[int]) -> float:
    """Plain-Python AUC: every (positive, negative) pair, ties one half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def test_auc_by_hand_with_ties_halved_and_nulls_last(spark):
    rows = spark.createDataFrame(DATA, ROWS)
    baselines = [
        Baseline("recency", "recency_days", "lower"),
        Baseline("rfm_score", "rfm_score", "higher"),
        Baseline("recency_flipped", "recency_days", "higher"),
    ]
    result = evaluate_baselines(rows, "label", baselines, {"gone": "column gone is not in the feature snapshots"})
    # Positives u1 u2 u5, negatives u3 u4 u6; 9 pairs.
    # recency, lower first: u1 beats all 3; u2 ties u3 (1/2) and beats u4, u6; u5 (null: last) beats none.
    # rfm_score, higher first: u1 beats 3; u2 ties u3, beats u4 (null) and u6; u5 (1.0) beats only u4 (null).
    # recency flipped (a churn direction): u1 (5) beats none; u2 ties u3; u5 (null) still last.
    expected = {"recency": 5.5 / 9, "rfm_score": 6.5 / 9, "recency_flipped": 0.5 / 9}
    assert dict(result.aucs) == pytest.approx(expected, abs=1e-12)
    labels = [r[0] for r in DATA]
    for i, sign in ((1, -1), (2, 1)):  # the same by brute force, a null as -inf
        column = [-math.inf if r[i] is None else sign * r[i] for r in DATA]
        assert _mann_whitney(column, labels) == pytest.approx(expected[["", "recency", "rfm_score"][i]])
    assert result.best == ("rfm_score", pytest.approx(6.5 / 9))
    assert result.metrics() == pytest.approx(
        {
            "baseline_recency_auc": 5.5 / 9,
            "baseline_rfm_score_auc": 6.5 / 9,
            "baseline_recency_flipped_auc": 0.5 / 9,
            "baseline_best_auc": 6.5 / 9,
        }
    )
    assert result.report()["skipped"] == {"gone": "column gone is not in the feature snapshots"}
    assert result.report()["evaluated"]["recency"] == {
        "column": "recency_days",
        "direction": "lower",
        "auc": pytest.approx(5.5 / 9),
    }


def test_nan_ranks_with_nulls_and_a_column_null_everywhere_is_skipped(spark):
    rows = spark.createDataFrame(
        [(1, 0.9, None), (0, float("nan"), None), (1, 0.2, None), (0, 0.5, None)], "label int, p double, q double"
    )
    result = evaluate_baselines(rows, "label", [Baseline("p", "p", "higher"), Baseline("q", "q", "higher")], {})
    # p: 0.9 beats NaN and 0.5; 0.2 beats only NaN (last): 3 of 4 pairs.
    assert dict(result.aucs) == {"p": pytest.approx(0.75)}
    assert result.skipped == {"q": "column q is null on every validation row"}
    assert [b.name for b in result.evaluated] == ["p"]


def test_the_first_declared_baseline_wins_a_tie_and_none_evaluated_has_no_best():
    tied = Baselines((), {"recency": 0.7, "rfm_score": 0.7}, {})
    assert tied.best == ("recency", 0.7)
    assert Baselines().best is None and Baselines().metrics() == {}


def test_available_skips_absent_columns_and_refuses_a_string_column(spark):
    schema = spark.createDataFrame([], ROWS).schema
    present, skipped = available(
        _target(
            recency=BaselineSpec(column="recency_days", direction="lower"),
            bgnbd_expected_purchases=BaselineSpec(column="bgnbd_expected_purchases_{horizon}d", direction="higher"),
            bgnbd_p_alive=BaselineSpec(column="bgnbd_p_alive", direction="higher"),
            dropped=None,
        ),
        schema,
    )
    assert present == [
        Baseline("recency", "recency_days", "lower"),
        Baseline("bgnbd_p_alive", "bgnbd_p_alive", "higher"),
    ]
    assert skipped == {
        "bgnbd_expected_purchases": "column bgnbd_expected_purchases_30d is not in the feature snapshots "
        "(written before it existed)"
    }
    with pytest.raises(InputError, match="baseline segment: column rfm_segment is string, not a number"):
        available(_target(segment=BaselineSpec(column="rfm_segment", direction="higher")), schema)
