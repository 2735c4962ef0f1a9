"""Distributed BTYD scores equal the numpy formulas row by row; the model registers in MLflow as @champion."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.testing import assertDataFrameEqual

from tests.base_config import base_config, replaced
from userscore.btyd import (
    BGNBDParams,
    GammaGammaParams,
    conditional_expected_average_value,
    customer_lifetime_value,
    expected_purchases,
    probability_alive,
)
from userscore.btyd.model import BTYDModel, ScoreSettings, fit_btyd
from userscore.btyd.scoring import add_btyd_scores, with_btyd_scores
from userscore.btyd.spend_check import SpendCheck
from userscore.btyd.summary import SufficientStats
from userscore.btyd.tracking import load_model, log_and_register
from userscore.config.btyd import BTYDGate
from userscore.models.tracking import Store

# Fader, Hardie & Lee (2005) CDNOW estimates, in weeks.
PUBLISHED = BTYDModel(
    bgnbd=BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426),
    gamma_gamma=GammaGammaParams(p=6.25, q=3.74, v=15.44),
    time_unit="weeks",
    observation_end=dt.date(1997, 10, 1),
)
SETTINGS = ScoreSettings(horizons_days=(30, 273), clv_horizon_days=364, clv_step_days=28, annual_discount_rate=0.12)
INPUT = "user_id string, segment string, x long, t_x_days int, t_cal_days int, m_x double"
ROWS = [
    # The paper's customer: x = 2, t_x = 30.43 weeks (213 days), T = 38.86 weeks (272 days).
    ("cdnow-00004", "a", 2, 213, 272, 22.345),
    ("u-no-repeat", "b", 0, 0, 269, None),
    ("u-heavy", "a", 25, 300, 301, 48.2),
    ("u-lapsed", None, 6, 40, 350, 15.0),
    ("u-new", "c", 0, 0, 0, None),
    ("u-no-purchase", "d", None, None, None, None),  # a user without a summary row (left join): null scores
]


def _expected_scores(row: tuple) -> dict[str, float | None]:
    """The numpy formulas called directly, with the unit and discount conversions spelled out."""
    _, _, x, t_x_days, t_cal_days, m_x = row
    if x is None:
        return dict.fromkeys(SETTINGS.columns)
    bg, gg = PUBLISHED.bgnbd, PUBLISHED.gamma_gamma
    t_x, T = t_x_days / 7, t_cal_days / 7
    m = 0.0 if m_x is None else m_x
    weekly_rate = 1.12 ** (7 / 365.25) - 1
    return {
        "p_alive": float(probability_alive(bg, x, t_x, T)),
        "expected_purchases_30d": float(expected_purchases(bg, 30 / 7, x, t_x, T)),
        "expected_purchases_273d": float(expected_purchases(bg, 39.0, x, t_x, T)),
        "expected_avg_value": float(conditional_expected_average_value(gg, x, m)),
        "clv_364d": float(
            customer_lifetime_value(
                bg, gg, x, t_x, T, m, horizon_periods=52.0, discount_rate_per_period=weekly_rate, step=4.0
            )
        ),
    }


def test_distributed_scores_equal_numpy(spark) -> None:
    df = spark.createDataFrame(ROWS, INPUT).repartition(3)
    scored = add_btyd_scores(df, PUBLISHED, (30, 273), 364, 28, 0.12)

    expected_schema = f"{INPUT}, " + ", ".join(f"{c} double" for c in SETTINGS.columns)
    expected = spark.createDataFrame([(*r, *_expected_scores(r).values()) for r in ROWS], expected_schema)
    assert scored.columns == expected.columns
    assertDataFrameEqual(scored, expected, rtol=1e-12, atol=1e-12)


def test_with_btyd_scores_joins_by_user(spark) -> None:
    # The fused stage's form: users (one row each, any columns) + the summary rows of those who bought.
    users = spark.createDataFrame([(r[0], r[1]) for r in ROWS], "user_id string, segment string")
    summary = spark.createDataFrame(
        [(r[0], dt.date(1997, 10, 1), *r[2:]) for r in ROWS if r[2] is not None],
        "user_id string, as_of_date date, x long, t_x_days int, t_cal_days int, m_x double",
    )
    got = with_btyd_scores(users, summary, PUBLISHED, SETTINGS)

    schema = "user_id string, segment string, " + ", ".join(f"{c} double" for c in SETTINGS.columns)
    expected = spark.createDataFrame([(r[0], r[1], *_expected_scores(r).values()) for r in ROWS], schema)
    assert got.columns == expected.columns
    assertDataFrameEqual(got, expected, rtol=1e-12, atol=1e-12)


def test_published_conditional_expectation_through_spark(spark) -> None:
    df = spark.createDataFrame(ROWS[:1], INPUT)
    row = add_btyd_scores(df, PUBLISHED, (273,), 364, 28, 0.0).first()
    # The paper: 1.226 expected purchases in the next 39 weeks. Alive with (hand-worked, T = 272/7, t_x = 213/7)
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 0.23147 * (43.271/34.843)^2.243) = 0.7266.
    assert row["expected_purchases_273d"] == pytest.approx(1.226, abs=1e-3)
    assert row["p_alive"] == pytest.approx(0.7266, abs=1e-4)
    # Gamma-Gamma: p (v + x m_x) / (p x + q - 1) = 6.25 * (15.44 + 44.69) / 15.24.
    assert row["expected_avg_value"] == pytest.approx(6.25 * (15.44 + 2 * 22.345) / (6.25 * 2 + 3.74 - 1), rel=1e-12)


def test_scores_reject_existing_columns(spark) -> None:
    df = spark.createDataFrame(
        [(1, 1, 2, 3.0, 0.5)], "x long, t_x_days int, t_cal_days int, m_x double, p_alive double"
    )
    with pytest.raises(ValueError, match=r"already has score columns \['p_alive'\]"):
        add_btyd_scores(df, PUBLISHED, (30,), 365, 30, 0.1)


# -- MLflow -------------------------------------------------------------------------------------------------
def _simulated_stats(customers: int = 3000, seed: int = 3) -> SufficientStats:
    """A BG/NBD + Gamma-Gamma population (rates per day), simulated in plain Python and grouped."""
    rng = np.random.default_rng(seed)
    rfm: Counter = Counter()
    spend: Counter = Counter()
    for _ in range(customers):
        rate, p_drop, T = rng.gamma(0.6, 1 / 25.0), rng.beta(1.0, 3.0), int(rng.integers(20, 365))
        nu = rng.gamma(4.0, 1 / 60.0)
        t, times = 0.0, []
        while True:
            t += rng.exponential(1 / rate)
            if t > T:
                break
            times.append(t)
            if rng.uniform() < p_drop:
                break
        days = sorted({math.floor(v) for v in times} - {0})
        x = len(days)
        rfm[(x, days[-1] if days else 0, T)] += 1
        if x:
            m_x = float(np.mean(rng.gamma(5.0, 1 / nu, x)))
            spend[(x, float(f"{m_x:.4g}"))] += 1
    r_keys, s_keys = sorted(rfm), sorted(spend)
    return SufficientStats(
        x=np.array([k[0] for k in r_keys], float),
        t_x_days=np.array([k[1] for k in r_keys], float),
        t_cal_days=np.array([k[2] for k in r_keys], float),
        weight=np.array([rfm[k] for k in r_keys], float),
        spend_x=np.array([k[0] for k in s_keys], float),
        spend_m_x=np.array([k[1] for k in s_keys], float),
        spend_weight=np.array([spend[k] for k in s_keys], float),
    )


@pytest.fixture(scope="module")
def fitted():
    return fit_btyd(_simulated_stats(), time_unit="days", observation_end=dt.date(2026, 6, 1))


def test_register_champion_and_gate(tmp_path: Path, fitted) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = Store(uri, (tmp_path / "mlruns").as_uri(), "btyd-test", None)
    btyd = replaced(
        base_config().btyd,
        model_name="userscore-btyd",
        time_unit="weeks",
        gate=BTYDGate(max_repeat_error=0.05, spend_holdout_days=90, max_spend_bias=0.10, max_spend_rmse_excess=0.0),
    )
    assert fitted.diagnostics.repeat_error < 0.05
    # A backtest that passes (its own tests are in test_spend_check.py): logged with the fit.
    spend = SpendCheck(
        dt.date(2026, 3, 3),
        customers=40.0,
        purchases=100.0,
        spend=5000.0,
        params=fitted.model.gamma_gamma,
        rmse={"gamma_gamma": 9.0, "own_mean": 10.0, "overall_mean": 12.0},
        bias={"gamma_gamma": 0.02, "own_mean": 0.01, "overall_mean": -0.03},
    )

    first = log_and_register(fitted, spend, btyd, store, "champion", tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert (first.version, first.decision.promote, first.previous_champion) == ("1", True, None)
    assert str(client.get_model_version_by_alias("userscore-btyd", "champion").version) == "1"
    run = client.get_run(first.run_id)
    assert run.data.metrics["bgnbd_r"] == fitted.model.bgnbd.r
    assert run.data.metrics["bgnbd_log_likelihood"] == fitted.bgnbd.log_likelihood
    assert run.data.metrics["gg_q"] == fitted.model.gamma_gamma.q
    assert run.data.metrics["rfm_groups"] == fitted.n_rfm_groups
    assert (run.data.metrics["holdout_bias_gamma_gamma"], run.data.metrics["holdout_rmse_own_mean"]) == (0.02, 10.0)
    assert run.data.params["btyd.time_unit"] == "weeks" and run.data.tags["time_unit"] == "days"

    # A stricter gate than the fit can meet: registered, but the champion stays version 1.
    strict = replaced(btyd, gate=replaced(btyd.gate, max_spend_bias=0.01))
    second = log_and_register(fitted, spend, strict, store, "champion", tmp_path)
    assert (second.version, second.decision.promote, second.previous_champion) == ("2", False, "1")
    assert str(client.get_model_version_by_alias("userscore-btyd", "champion").version) == "1"
    assert client.get_model_version("userscore-btyd", "2").tags["gate_verdict"] == "failed"

    # The champion loads back as the same parameters, and its pyfunc predicts the numpy scores.
    model, settings, version = load_model(store, "userscore-btyd", "champion")
    assert (model, version) == (fitted.model, "1")
    assert settings == ScoreSettings.of(btyd.scoring)
    frame = pd.DataFrame({"x": [0, 3], "t_x_days": [0, 40], "t_cal_days": [12, 90], "m_x": [None, 31.5]})
    predicted = mlflow.pyfunc.load_model("models:/userscore-btyd@champion").predict(frame)
    direct = fitted.model.scores(
        np.array([0.0, 3.0]), np.array([0.0, 40.0]), np.array([12.0, 90.0]), np.array([np.nan, 31.5]), settings
    )
    pd.testing.assert_frame_equal(predicted, pd.DataFrame(direct), check_exact=True)
