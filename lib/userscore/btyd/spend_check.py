"""The held-out spend check of the BTYD champion gate: does Gamma-Gamma predict what customers spend per
purchase at least as well as the naive rules, and without a bias in total?

A backtest at S = D - holdout_days. The calibration summary at S is what a fit at S would have seen, and
Gamma-Gamma is fitted on its (x, m_x) groups as the champion is at D. A customer who bought before S and
again in [S, D) has n purchase days there (same-day orders are one, as in m_x) with spend s, mean a = s / n.
Three predictions of a, each a function of the customer's (x, m_x) at S:

    gamma_gamma    E[mean spend | x, m_x] = p (v + x m_x) / (p x + q - 1)   (what the scores serve)
    own_mean       m_x; for a customer without a repeat purchase (x = 0), the overall mean
    overall_mean   the mean m_x of the customers with x > 0, for everyone

Errors weight each holdout purchase once, as a CLV does:

    rmse = sqrt(sum n (pred - a)^2 / sum n)        bias = sum n pred / sum s - 1

so a (x, m_x) group needs only sum n, sum s and sum s^2 / n over its customers: the driver receives the
groups (bounded as the Gamma-Gamma fit's are), never customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.btyd.errors import FitError
from userscore.btyd.gamma_gamma import GammaGammaParams, conditional_expected_average_value, fit_gamma_gamma
from userscore.btyd.summary import (
    AMOUNT,
    CUSTOMERS,
    M_X,
    ORDER_TIME,
    X,
    calibration_summary,
    observed_orders,
    round_significant,
)
from userscore.keys import USER_ID

RETURNING = "holdout_customers"
PURCHASES, SPEND, SPEND_SQUARES = "holdout_purchases", "holdout_spend", "holdout_spend_squares"
GAMMA_GAMMA, OWN_MEAN, OVERALL_MEAN = "gamma_gamma", "own_mean", "overall_mean"
BASELINES = (OWN_MEAN, OVERALL_MEAN)

_MONEY = "decimal(38,6)"


def holdout_groups(
    orders: DataFrame,
    as_of: dt.date,
    holdout_days: int,
    *,
    significant_digits: int,
    calibration_days: int | None = None,
    exclude_refunded: bool = True,
) -> DataFrame:
    """Per (x, m_x) of the summary at S = D - holdout_days (m_x rounded as for the fit, null when x = 0):
    customers, those of them who bought in [S, D), and their purchases, spend and sum of spend^2 / purchases
    there.

    Refunds follow each side's point in time: the summary at S drops those recorded before S, the holdout
    those recorded before D. Sums are decimal, hence exact and independent of the partitioning.
    """
    split = as_of - dt.timedelta(days=holdout_days)
    before = calibration_summary(
        orders, split, calibration_days=calibration_days, exclude_refunded=exclude_refunded
    ).select(USER_ID, X, M_X)
    days = (
        observed_orders(orders, as_of, calibration_days=holdout_days, exclude_refunded=exclude_refunded)
        .groupBy(USER_ID, F.to_date(ORDER_TIME).alias("_day"))
        .agg(F.sum(F.col(AMOUNT).cast(_MONEY)).alias("_spend"))
    )
    later = days.groupBy(USER_ID).agg(F.count(F.lit(1)).alias("_n"), F.sum("_spend").alias("_s"))
    # An m_x of 0 (only free repeat purchases) is kept as 0: Gamma-Gamma skips it, the scores do not.
    m_x = F.when(F.col(X) > 0, F.coalesce(round_significant(F.col(M_X), significant_digits), F.col(M_X)))
    squares = (F.col("_s").cast("double") ** 2 / F.col("_n")).cast(_MONEY)
    return (
        before.join(later, USER_ID, "left")
        .groupBy(F.col(X), m_x.alias(M_X))
        .agg(
            F.count(F.lit(1)).alias(CUSTOMERS),
            F.count("_n").alias(RETURNING),
            F.coalesce(F.sum("_n"), F.lit(0)).cast("long").alias(PURCHASES),
            F.coalesce(F.sum("_s"), F.lit(0)).cast("double").alias(SPEND),
            F.coalesce(F.sum(squares), F.lit(0)).cast("double").alias(SPEND_SQUARES),
        )
    )


@dataclass(frozen=True)
class HoldoutGroups:
    """The driver's view of the backtest: one entry per (x, m_x) group (m_x NaN where x = 0)."""

    x: np.ndarray
    m_x: np.ndarray
    customers: np.ndarray
    returning: np.ndarray  # customers with a purchase in [S, D)
    purchases: np.ndarray
    spend: np.ndarray
    spend_squares: np.ndarray


def collect_holdout_groups(groups: DataFrame) -> HoldoutGroups:
    """Bring the groups of :func:`holdout_groups` to the driver, sorted (re-runs fit on the same arrays)."""
    frame = groups.orderBy(X, M_X).toPandas()
    names = (X, M_X, CUSTOMERS, RETURNING, PURCHASES, SPEND, SPEND_SQUARES)
    return HoldoutGroups(*(frame[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in names))


@dataclass(frozen=True)
class SpendCheck:
    """The backtest's figures: who is scored, the fit at S and each prediction's RMSE and bias.

    failure: why the check could not be made (no customer before S, nobody buying in [S, D), a fit that
    fails or has no finite mean); then params is None and the error dicts are empty.
    """

    split_date: dt.date
    customers: float  # customers who bought before S and again in [S, D)
    purchases: float
    spend: float
    params: GammaGammaParams | None
    rmse: dict[str, float]
    bias: dict[str, float]
    failure: str | None = None

    @property
    def best_baseline(self) -> str:
        """The naive rule with the lowest RMSE."""
        return min(BASELINES, key=lambda name: self.rmse[name])

    def metrics(self) -> dict[str, float]:
        """Numeric figures for MLflow, prefixed ``holdout_``."""
        out = {"holdout_customers": self.customers, "holdout_purchases": self.purchases, "holdout_spend": self.spend}
        if self.params is not None:
            out |= {f"holdout_gg_{k}": v for k, v in self.params.to_dict().items()}
        out |= {f"holdout_rmse_{name}": value for name, value in self.rmse.items()}
        return out | {f"holdout_bias_{name}": value for name, value in self.bias.items()}


def check_spend(groups: HoldoutGroups, split_date: dt.date, *, penalizer: float, max_iter: int) -> SpendCheck:
    """Fit Gamma-Gamma on the groups at S (as fit_btyd does at D) and score it with :func:`score_spend`."""
    if groups.customers.sum() == 0:
        return _failed(groups, split_date, f"no customer bought before {split_date}")
    fitted = (groups.x > 0) & (groups.m_x > 0)  # as at D: Gamma-Gamma needs a positive mean spend
    try:
        params = fit_gamma_gamma(
            groups.x[fitted], groups.m_x[fitted], groups.customers[fitted], penalizer=penalizer, max_iter=max_iter
        ).params
    except FitError as exc:
        return _failed(groups, split_date, f"Gamma-Gamma fit at {split_date} failed: {exc}")
    return score_spend(groups, params, split_date)


def score_spend(groups: HoldoutGroups, params: GammaGammaParams, split_date: dt.date) -> SpendCheck:
    """RMSE and bias of Gamma-Gamma at ``params`` and of the naive rules on the holdout purchases."""
    scored = groups.purchases > 0
    n, s, squares = groups.purchases[scored], groups.spend[scored], groups.spend_squares[scored]
    if n.sum() == 0 or s.sum() <= 0:
        return _failed(groups, split_date, f"no spend in [{split_date}, D) by customers who bought before it")
    if params.q <= 1.0:
        return _failed(groups, split_date, f"Gamma-Gamma at {split_date} has no finite mean (q = {params.q:.4f})")
    repeat = groups.x > 0
    overall = float(np.sum(groups.customers[repeat] * groups.m_x[repeat]) / groups.customers[repeat].sum())
    x, m_x = groups.x[scored], groups.m_x[scored]
    predictions = {
        GAMMA_GAMMA: conditional_expected_average_value(params, x, m_x),
        OWN_MEAN: np.where(x > 0, m_x, overall),
        OVERALL_MEAN: np.full(x.shape, overall),
    }
    rmse, bias = {}, {}
    for name, pred in predictions.items():
        # Over a group's customers, sum n (pred - s/n)^2 = pred^2 sum n - 2 pred sum s + sum s^2/n; clipped
        # at 0 against rounding when a prediction is (nearly) exact.
        squared = float(np.sum(pred**2 * n - 2.0 * pred * s + squares))
        rmse[name] = float(np.sqrt(max(squared, 0.0) / n.sum()))
        bias[name] = float(np.sum(pred * n) / s.sum() - 1.0)
    return SpendCheck(split_date, *_totals(groups), params=params, rmse=rmse, bias=bias)


def _totals(groups: HoldoutGroups) -> tuple[float, float, float]:
    return float(groups.returning.sum()), float(groups.purchases.sum()), float(groups.spend.sum())


def _failed(groups: HoldoutGroups, split_date: dt.date, reason: str) -> SpendCheck:
    return SpendCheck(split_date, *_totals(groups), params=None, rmse={}, bias={}, failure=reason)
