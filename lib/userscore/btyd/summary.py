"""The BTYD calibration summary in Spark, and the distinct groups the driver fits on.

Convention (one formula for the production snapshots and for CDNOW): a snapshot D observes the orders
with order_ts < D 00:00 UTC, so the last observed day is D - 1. Purchases are whole days (same-day orders
are one purchase whose spend is their sum), and, per customer with at least one purchase day:

    x          = purchase days - 1                         (the first purchase is not a repeat)
    t_x_days   = last purchase day - first purchase day    (recency)
    t_cal_days = (D - 1 day) - first purchase day          (age T: a purchase on the last day has t_x = T)
    m_x        = mean spend of the repeat purchase days    (null when x = 0): double(exact decimal sum) / x

t_x and T in the fit's unit are these day counts divided by the unit's days (1 or 7). CDNOW's published
calibration (Fader, Hardie & Lee 2005: orders dated up to and including 1997-09-30, T to 1997-09-30) is
exactly D = 1997-10-01 here: the published customer with first purchase 1997-01-01 gets T = 272 / 7 = 38.86.

Refunded orders are excluded by default (a refunded order is no purchase, as in the RFM features), point
in time: only those whose refund was recorded before D (userscore.refunds); an order of amount 0 is a
purchase occasion with spend 0 (Gamma-Gamma then skips customers whose m_x is 0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.keys import USER_ID
from userscore.refunds import refunded_as_of

X = "x"
T_X_DAYS = "t_x_days"
T_CAL_DAYS = "t_cal_days"
M_X = "m_x"
CUSTOMERS = "customers"
SUMMARY_COLUMNS = (USER_ID, X, T_X_DAYS, T_CAL_DAYS, M_X)
# The silver.orders columns read; order_month is optional and only used to prune later months.
ORDER_TIME, AMOUNT, ORDER_MONTH = "order_ts", "amount", "order_month"

_DAY, _SPEND = "_day", "_spend"
_MONEY = "decimal(38,6)"


def _midnight(day: dt.date) -> Column:
    # Cast in the session time zone (UTC): D means D 00:00:00 UTC.
    return F.lit(day).cast("timestamp")


def observed_orders(
    orders: DataFrame,
    observation_end_exclusive: dt.date,
    *,
    calibration_days: int | None = None,
    exclude_refunded: bool = True,
) -> DataFrame:
    """The orders a summary at D counts: order_ts in [D - calibration_days, D), those refunded before D
    dropped (``exclude_refunded``; needs is_refunded and refunded_at)."""
    end = observation_end_exclusive
    start = None if calibration_days is None else end - dt.timedelta(days=calibration_days)
    if ORDER_MONTH in orders.columns:
        # Month predicates let Delta skip partitions; the exact bounds follow on order_ts.
        orders = orders.where(F.col(ORDER_MONTH) <= F.lit(end.replace(day=1)))
        if start is not None:
            orders = orders.where(F.col(ORDER_MONTH) >= F.lit(start.replace(day=1)))
    rows = orders.where(F.col(ORDER_TIME) < _midnight(end))
    if start is not None:
        rows = rows.where(F.col(ORDER_TIME) >= _midnight(start))
    if exclude_refunded:
        rows = rows.where(~refunded_as_of(_midnight(end)))
    return rows


def calibration_summary(
    orders: DataFrame,
    observation_end_exclusive: dt.date,
    *,
    calibration_days: int | None = None,
    exclude_refunded: bool = True,
) -> DataFrame:
    """One row per customer with a purchase before D: user_id, x, t_x_days, t_cal_days, m_x.

    Args:
        orders: rows with user_id, order_ts (timestamp), amount, is_refunded, refunded_at (and optionally
            order_month); the refund columns only when exclude_refunded.
        observation_end_exclusive: the snapshot date D; orders with order_ts < D 00:00 UTC count.
        calibration_days: count only orders from D - calibration_days on (None: all history before D).
        exclude_refunded: drop refunded orders before anything is counted.
    """
    last_day = observation_end_exclusive - dt.timedelta(days=1)
    rows = observed_orders(
        orders, observation_end_exclusive, calibration_days=calibration_days, exclude_refunded=exclude_refunded
    )
    # Spend is summed as decimal(38, 6): exact and independent of the summation order, so m_x (and the
    # rounded groups) do not change with the partitioning. One shuffle: the user partitioning also
    # clusters the (user, day) aggregation below it.
    days = (
        rows.select(USER_ID, F.to_date(ORDER_TIME).alias(_DAY), F.col(AMOUNT).cast(_MONEY).alias(AMOUNT))
        .repartition(USER_ID)
        .groupBy(USER_ID, _DAY)
        .agg(F.sum(AMOUNT).alias(_SPEND))
    )
    per_user = days.groupBy(USER_ID).agg(
        F.min(_DAY).alias("_first"),
        F.max(_DAY).alias("_last"),
        F.count(F.lit(1)).alias("_days"),
        F.sum(_SPEND).alias("_total"),
        F.min_by(_SPEND, _DAY).alias("_first_spend"),
    )
    x = F.col("_days") - 1
    repeat_spend = (F.col("_total") - F.col("_first_spend")).cast("double")
    return per_user.select(
        USER_ID,
        x.cast("long").alias(X),
        F.datediff("_last", "_first").alias(T_X_DAYS),
        F.datediff(F.lit(last_day), F.col("_first")).alias(T_CAL_DAYS),
        F.when(x > 0, repeat_spend / x).cast("double").alias(M_X),
    )


def round_significant(value: Column, digits: int) -> Column:
    """``value`` rounded to ``digits`` significant digits (half up); null for values <= 0 or null.

    Only non-negative powers of ten are used (exact doubles), so the result is reproducible in plain
    Python: with k = digits - 1 - floor(log10(v)), floor(v * 10^k + 0.5) / 10^k for k >= 0, else
    floor(v / 10^-k + 0.5) * 10^-k.
    """
    k = F.lit(digits - 1) - F.floor(F.log10(value))
    up = F.pow(F.lit(10.0), k)
    down = F.pow(F.lit(10.0), -k)
    rounded = F.when(k >= 0, F.floor(value * up + 0.5) / up).otherwise(F.floor(value / down + 0.5) * down)
    return F.when(value > 0, rounded.cast("double"))


def round_days(days: Column, resolution_days: int) -> Column:
    """``days`` rounded to the nearest multiple of ``resolution_days`` (half up); unchanged for 1.

    Monotone, so t_x <= T still holds after rounding both.
    """
    if resolution_days == 1:
        return days
    return (F.floor(days / resolution_days + 0.5) * resolution_days).cast("int")


def rfm_groups(summary: DataFrame, resolution_days: int = 1) -> DataFrame:
    """Distinct (x, t_x_days, t_cal_days) with the number of customers: all BG/NBD needs.

    With day resolution the groups are bounded by (distinct x) * H^2 / 2 for H days of history, which at
    millions of customers approaches one group per customer; ``resolution_days`` > 1 rounds t_x and T to
    multiples of that many days for the fit (scores still use each customer's exact days), bounding the
    groups by (distinct x) * (H / resolution_days)^2 / 2.
    """
    return summary.groupBy(
        F.col(X),
        round_days(F.col(T_X_DAYS), resolution_days).alias(T_X_DAYS),
        round_days(F.col(T_CAL_DAYS), resolution_days).alias(T_CAL_DAYS),
    ).agg(F.count(F.lit(1)).alias(CUSTOMERS))


def spend_groups(summary: DataFrame, significant_digits: int) -> DataFrame:
    """Distinct (x, m_x rounded) of customers with x > 0 and m_x > 0, with the number of customers.

    Rounding to significant digits bounds the groups by (distinct x) x (decades of spend) x 9 * 10^(digits-1)
    whatever the number of customers; at 4 digits it moves m_x by at most 0.05%.
    """
    spenders = summary.where((F.col(X) > 0) & (F.col(M_X) > 0))
    return spenders.groupBy(X, round_significant(F.col(M_X), significant_digits).alias(M_X)).agg(
        F.count(F.lit(1)).alias(CUSTOMERS)
    )


@dataclass(frozen=True)
class SufficientStats:
    """The driver's whole view of the customers: distinct groups and their customer counts (weights).

    rfm: x, t_x_days, t_cal_days, weight (every customer), with t_x_days and t_cal_days rounded to multiples
    of ``resolution_days``; spend: x, m_x, weight (x > 0 and m_x > 0).
    """

    x: np.ndarray
    t_x_days: np.ndarray
    t_cal_days: np.ndarray
    weight: np.ndarray
    spend_x: np.ndarray
    spend_m_x: np.ndarray
    spend_weight: np.ndarray
    resolution_days: int = 1

    @property
    def n_customers(self) -> int:
        return int(self.weight.sum())

    @property
    def n_rfm_groups(self) -> int:
        return int(self.weight.size)

    @property
    def n_spend_groups(self) -> int:
        return int(self.spend_weight.size)


def _column(frame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=np.float64)


def collect_rfm_groups(summary: DataFrame, resolution_days: int = 1) -> tuple[np.ndarray, ...]:
    """The BG/NBD fit's arrays (x, t_x_days, t_cal_days, weight) of :func:`rfm_groups`, aggregated on the
    executors; sorted, so re-runs hand the optimiser the same arrays."""
    rfm = rfm_groups(summary, resolution_days).orderBy(X, T_X_DAYS, T_CAL_DAYS).toPandas()
    return tuple(_column(rfm, name) for name in (X, T_X_DAYS, T_CAL_DAYS, CUSTOMERS))


def collect_groups(summary: DataFrame, significant_digits: int, resolution_days: int = 1) -> SufficientStats:
    """Aggregate on the executors and bring only the distinct groups to the driver (sorted, so re-runs
    hand the optimiser the same arrays)."""
    x, t_x_days, t_cal_days, weight = collect_rfm_groups(summary, resolution_days)
    spend = spend_groups(summary, significant_digits).orderBy(X, M_X).toPandas()
    return SufficientStats(
        x=x,
        t_x_days=t_x_days,
        t_cal_days=t_cal_days,
        weight=weight,
        spend_x=_column(spend, X),
        spend_m_x=_column(spend, M_X),
        spend_weight=_column(spend, CUSTOMERS),
        resolution_days=resolution_days,
    )
