"""The customer-base family: BG/NBD fitted point in time at each snapshot D, as feature columns.

Per snapshot D (conf: ``features.customer_base``):
1. the BTYD summary of the orders before D (userscore.btyd.summary: same-day orders are one purchase,
   refunds recorded before D excluded) gives each buyer x, t_x_days and T_days;
2. its distinct (x, t_x, T) groups, t_x and T rounded to ``fit_resolution_days``, are the only rows the
   driver receives; BG/NBD is fitted on them (userscore.btyd.fit_bgnbd), so nothing after D enters the fit;
3. a vectorised pandas UDF closing over the four parameters gives every buyer P(alive) and the expected
   purchases per horizon from their exact days.

A user without a purchase before D is no customer of the model yet: x = t_x = T = 0, P(alive) 0 and expected
purchases 0 (below every customer, as recency_days ranks non-buyers last). A fit that fails (no repeat
purchase yet, parameters the data does not identify, no convergence) leaves P(alive) and the expected
purchases null for the whole snapshot, with the reason in :class:`CustomerBase`; the summary columns stay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.btyd.bgnbd import BGNBDParams, expected_purchases, fit_bgnbd, probability_alive
from userscore.btyd.errors import FitError
from userscore.btyd.summary import (
    AMOUNT,
    ORDER_MONTH,
    ORDER_TIME,
    T_CAL_DAYS,
    T_X_DAYS,
    X,
    calibration_summary,
    collect_rfm_groups,
)
from userscore.config.btyd import UNIT_DAYS
from userscore.config.columns import (
    BGNBD_P_ALIVE,
    BGNBD_T_DAYS,
    BGNBD_T_X_DAYS,
    BGNBD_X,
    bgnbd_expected_purchases_column,
    customer_base_model_columns,
)
from userscore.config.features import CustomerBaseConfig, SourceSpec
from userscore.keys import USER_ID
from userscore.refunds import REFUNDED, REFUNDED_AT

_SCORES = "_bgnbd_scores"


@dataclass(frozen=True)
class CustomerBase:
    """The BTYD summary at D (user_id, x, t_x_days, T_cal_days: userscore.btyd.summary's names) and the
    BG/NBD parameters applied to it: fitted on its groups, or published with an earlier run's snapshot.

    ``params`` is None when the fit failed; ``failure`` then says why.
    """

    as_of: dt.date
    summary: DataFrame
    params: BGNBDParams | None
    failure: str | None
    n_customers: float
    n_groups: int

    def describe(self) -> str:
        """One phrase for the job's log: the parameters, or why the model columns are null."""
        if self.params is None:
            return f"BG/NBD fit failed, bgnbd_p_alive and bgnbd_expected_purchases_* null: {self.failure}"
        p = self.params
        return (
            f"BG/NBD r={p.r:.4g} alpha={p.alpha:.4g} a={p.a:.4g} b={p.b:.4g} "
            f"on {self.n_customers:,.0f} customers ({self.n_groups:,} groups)"
        )


@dataclass(frozen=True)
class PublishedFit:
    """A snapshot's BG/NBD outcome as published (userscore.features.population): reused, not refitted."""

    params: BGNBDParams | None
    failure: str | None
    n_customers: float
    n_groups: int


def _as_summary_orders(orders: DataFrame, source: SourceSpec) -> DataFrame:
    """The orders under the column names the BTYD summary reads (the feature source names its own)."""
    month = [F.col(source.month).alias(ORDER_MONTH)] if source.month else []
    return orders.select(USER_ID, F.col(source.time).alias(ORDER_TIME), AMOUNT, REFUNDED, REFUNDED_AT, *month)


def summary_at(orders: DataFrame, as_of: dt.date, source: SourceSpec) -> DataFrame:
    """One row per buyer before D: user_id, x, t_x_days, T_cal_days."""
    summary = calibration_summary(_as_summary_orders(orders, source), as_of, exclude_refunded=True)
    return summary.select(USER_ID, X, T_X_DAYS, T_CAL_DAYS)


def fit_groups(summary: DataFrame, config: CustomerBaseConfig) -> PublishedFit:
    """Fit BG/NBD on the summary's distinct groups (aggregated on the executors)."""
    x, t_x_days, t_cal_days, weight = collect_rfm_groups(summary, config.resolution_days)
    unit = UNIT_DAYS[config.time_unit]
    try:
        fit = fit_bgnbd(
            x, t_x_days / unit, t_cal_days / unit, weight, penalizer=config.penalizer, max_iter=config.max_iter
        )
    except FitError as exc:
        return PublishedFit(None, str(exc), float(weight.sum()), len(x))
    return PublishedFit(fit.params, None, fit.n_customers, len(x))


@contextmanager
def customer_base_at(
    orders: DataFrame,
    as_of: dt.date,
    source: SourceSpec,
    config: CustomerBaseConfig,
    storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK,
    published: PublishedFit | None = None,
) -> Iterator[CustomerBase]:
    """Summarise the orders before D and apply the ``published`` fit, or fit on the summary's groups (the
    summary then stays persisted in the block: it is read twice, the groups, then the caller's join)."""
    summary = summary_at(orders, as_of, source)
    if published is not None:
        p = published
        yield CustomerBase(as_of, summary, p.params, p.failure, p.n_customers, p.n_groups)
        return
    summary = summary.persist(storage_level)
    try:
        fit = fit_groups(summary, config)
        yield CustomerBase(as_of, summary, fit.params, fit.failure, fit.n_customers, fit.n_groups)
    finally:
        summary.unpersist()


def _model_scores(params: BGNBDParams, config: CustomerBaseConfig):
    """The pandas UDF (x, t_x_days, T_days) -> struct of P(alive) and expected purchases per horizon."""
    names = customer_base_model_columns(config)
    unit = UNIT_DAYS[config.time_unit]
    horizons = tuple(config.horizons_days)
    schema = T.StructType([T.StructField(n, T.DoubleType()) for n in names])

    @F.pandas_udf(schema)
    def scores(x: pd.Series, t_x_days: pd.Series, t_days: pd.Series) -> pd.DataFrame:
        x_ = x.to_numpy(dtype="float64")
        t_x = t_x_days.to_numpy(dtype="float64") / unit
        t_cal = t_days.to_numpy(dtype="float64") / unit
        out = {BGNBD_P_ALIVE: probability_alive(params, x_, t_x, t_cal)}
        for h in horizons:
            out[bgnbd_expected_purchases_column(h)] = expected_purchases(params, h / unit, x_, t_x, t_cal)
        return pd.DataFrame(out, columns=names)

    return scores


def with_customer_base(df: DataFrame, base: CustomerBase, config: CustomerBaseConfig) -> DataFrame:
    """``df`` (one row per user_id) plus the customer-base columns, with the non-buyers' defaults."""
    names = customer_base_model_columns(config)
    summary, scores = base.summary, []
    if base.params is not None:
        summary = summary.withColumn(_SCORES, _model_scores(base.params, config)(X, T_X_DAYS, T_CAL_DAYS))
        scores = [F.col(f"{_SCORES}.{n}").alias(n) for n in names]
    summary = summary.select(
        USER_ID,
        F.col(X).alias(BGNBD_X),
        F.col(T_X_DAYS).alias(BGNBD_T_X_DAYS),
        F.col(T_CAL_DAYS).alias(BGNBD_T_DAYS),
        *scores,
    )
    joined = df.join(summary, USER_ID, "left")
    fitted = base.params is not None
    model = {n: F.coalesce(F.col(n), F.lit(0.0)) if fitted else F.lit(None).cast("double") for n in names}
    return joined.withColumns(
        {
            BGNBD_X: F.coalesce(F.col(BGNBD_X), F.lit(0).cast("long")),
            BGNBD_T_X_DAYS: F.coalesce(F.col(BGNBD_T_X_DAYS), F.lit(0)),
            BGNBD_T_DAYS: F.coalesce(F.col(BGNBD_T_DAYS), F.lit(0)),
            **model,
        }
    )
