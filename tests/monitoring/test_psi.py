"""PSI and its binning on hand-computed examples."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.base_config import base_config, replaced
from userscore.monitoring.drift import score_drift
from userscore.monitoring.psi import Binning, binned_counts, fit_binnings, psi


def test_psi_of_three_bins_by_hand():
    # shares e = (0.5, 0.3, 0.2), a = (0.4, 0.3, 0.3):
    # (0.4-0.5) ln(0.4/0.5) + 0 + (0.3-0.2) ln(0.3/0.2) = 0.0223144 + 0.0405465
    assert psi({"a": 50, "b": 30, "c": 20}, {"a": 40, "b": 30, "c": 30}) == pytest.approx(0.0628609, abs=1e-7)


def test_psi_is_zero_for_equal_shares_whatever_the_counts():
    assert psi({"a": 1, "b": 3}, {"a": 10, "b": 30}) == pytest.approx(0.0, abs=1e-12)


def test_an_empty_bin_is_floored_at_epsilon():
    # expected (1.0, 0.0) -> (1.0, 1e-4 floor); actual (0.5, 0.5):
    # (0.5 - 1.0) ln(0.5 / 1.0) + (0.5 - 0.0001) ln(0.5 / 0.0001) = 0.3465736 + 4.2577448
    assert psi({"a": 10}, {"a": 5, "b": 5}, epsilon=1e-4) == pytest.approx(4.6043184, abs=1e-6)
    # a larger floor makes the term smaller: (0.5 - 0.01) ln(50) + 0.3465736 = 1.9168913 + 0.3465736 = 2.2634649
    assert psi({"a": 10, "b": 0}, {"a": 5, "b": 5}, epsilon=0.01) == pytest.approx(2.2634649, abs=1e-6)


def test_numeric_bins_are_right_closed_and_nulls_get_their_own_bin(spark):
    df = spark.createDataFrame([(float(v),) for v in range(1, 11)] + [(None,)], "x double")
    counts = binned_counts(df, [Binning("x", (3.0, 7.0))])
    # x <= 3: 1, 2, 3; 3 < x <= 7: 4..7; x > 7: 8, 9, 10
    assert counts == {("x",): {"0": 3, "1": 4, "2": 3, "null": 1}}
    assert Binning("x", (3.0, 7.0)).bounds("1") == (3.0, 7.0)
    assert Binning("x", (3.0, 7.0)).bounds("0") == (None, 3.0)


def test_categorical_bins_by_value_and_counts_per_group(spark):
    rows = [("d1", "gold"), ("d1", "gold"), ("d1", None), ("d2", "basic")]
    df = spark.createDataFrame(rows, "d string, level string")
    counts = binned_counts(df, [Binning("level", categorical=True)], by=["d"])
    assert counts == {("d1", "level"): {"gold": 2, "null": 1}, ("d2", "level"): {"basic": 1}}


def test_quantile_edges_merge_ties(spark):
    df = spark.createDataFrame([(float(v), float(v % 2)) for v in range(1, 101)], "x double, parity double")
    binnings = fit_binnings(df, ["x", "parity"], [], bins=4, relative_error=0.0)
    assert binnings["x"].edges == (25.0, 50.0, 75.0)
    # parity has values 0 and 1 only: quartiles 0, 0/1, 1 collapse to two distinct edges
    assert binnings["parity"].edges == (0.0, 1.0)


def test_score_psi_against_the_previous_snapshot_by_hand(spark):
    d1, d2 = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
    previous = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    current = [0.1, 0.3, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9]
    rows = [(f"u{i}", d1, p) for i, p in enumerate(previous)] + [(f"u{i}", d2, p) for i, p in enumerate(current)]
    scores = spark.createDataFrame(rows, "user_id string, as_of_date date, s double")
    drift = score_drift(
        scores, d2, d1, ["s"], {}, replaced(base_config().monitor.psi, bins=4, quantile_relative_error=0.0)
    )
    # previous quartile edges: 0.2, 0.4, 0.6 -> previous 2/2/2/2; current: <=0.2: 0.1 (1); (0.2,0.4]: 0.3 (1);
    # (0.4,0.6]: none (0 -> 1e-4); >0.6: 6. Shares e = .25 each; a = .125, .125, 0, .75
    e = [0.25, 0.25, 0.25, 0.25]
    a = [0.125, 0.125, 1e-4, 0.75]
    expected = sum((ai - ei) * math.log(ai / ei) for ai, ei in zip(a, e, strict=True))
    assert [(r["name"], r["baseline"], r["bins"], r["rows"], r["baseline_rows"]) for r in drift] == [
        ("s", "previous", 4, 8, 8)
    ]
    assert drift[0]["psi"] == pytest.approx(expected, abs=1e-9)
