"""Distributed per-customer BTYD scores: one vectorised pandas UDF over the summary columns.

The UDF closes over the fitted parameters (a handful of floats shipped with the task, i.e. broadcast as
constants) and calls the numpy formulas of bgnbd.py / gamma_gamma.py / clv.py on whole Arrow batches, so
there is no per-row Python. Column names: see userscore.btyd.model (p_alive, expected_purchases_<h>d,
expected_avg_value, clv_<h>d).

For the fused scoring stage: load the champion with ``userscore.btyd.tracking.load_model`` (parameters, the
score settings it was registered with, its version), read the summary of snapshot D (btyd.summary_table,
partition as_of_date = D, written by ``userscore btyd --as-of D``; or ``calibration_summary(orders, D)``)
and chain ``users.transform(with_btyd_scores, summary, model, settings)``.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.btyd.model import BTYDModel, ScoreSettings
from userscore.btyd.summary import M_X, T_CAL_DAYS, T_X_DAYS, X
from userscore.keys import USER_ID

_SCORES = "_btyd_scores"


def add_btyd_scores(
    df: DataFrame,
    model: BTYDModel,
    horizons_days: tuple[int, ...],
    clv_horizon_days: int,
    clv_step_days: int,
    annual_discount_rate: float,
) -> DataFrame:
    """Add the BTYD score columns to ``df`` (same rows, other columns untouched).

    Args:
        df: any rows with the summary columns x, t_x_days, t_cal_days, m_x (e.g. features.btyd_summary,
            or users left-joined with it: rows whose summary is null get null scores).
        model: the fitted parameters (e.g. the registry's champion, see userscore.btyd.tracking).
        horizons_days, clv_horizon_days, clv_step_days, annual_discount_rate: the ``btyd.scoring`` config.
    """
    settings = ScoreSettings(tuple(horizons_days), clv_horizon_days, clv_step_days, annual_discount_rate)
    names = settings.columns
    clash = sorted(set(names) & {c.lower() for c in df.columns})
    if clash:
        raise ValueError(f"add_btyd_scores: the input already has score columns {clash}")
    schema = T.StructType([T.StructField(n, T.DoubleType()) for n in names])

    @F.pandas_udf(schema)
    def scores(x: pd.Series, t_x_days: pd.Series, t_cal_days: pd.Series, m_x: pd.Series) -> pd.DataFrame:
        out = model.scores(
            x.to_numpy(dtype="float64", na_value=float("nan")),
            t_x_days.to_numpy(dtype="float64", na_value=float("nan")),
            t_cal_days.to_numpy(dtype="float64", na_value=float("nan")),
            m_x.to_numpy(dtype="float64", na_value=float("nan")),
            settings,
        )
        return pd.DataFrame(out, columns=names)

    inputs = [F.col(c).cast("double") for c in (X, T_X_DAYS, T_CAL_DAYS, M_X)]
    # NaN (undefined: unknown inputs, or no finite mean spend) becomes SQL null.
    fields = [F.nanvl(F.col(f"{_SCORES}.{n}"), F.lit(None).cast("double")).alias(n) for n in names]
    return df.withColumn(_SCORES, scores(*inputs)).select(*[F.col(f"`{c}`") for c in df.columns], *fields)


def with_btyd_scores(users: DataFrame, summary: DataFrame, model: BTYDModel, settings: ScoreSettings) -> DataFrame:
    """``users`` (one row per user_id) with the BTYD score columns added; same rows, other columns untouched.

    The scores are computed on ``summary`` (one row per customer who bought before D: user_id, x, t_x_days,
    t_cal_days, m_x) and left-joined by user_id, so users without a purchase before D get null scores.
    """
    scored = add_btyd_scores(
        summary.select(USER_ID, X, T_X_DAYS, T_CAL_DAYS, M_X),
        model,
        settings.horizons_days,
        settings.clv_horizon_days,
        settings.clv_step_days,
        settings.annual_discount_rate,
    ).select(USER_ID, *settings.columns)
    return users.join(scored, USER_ID, "left").select(*[F.col(f"`{c}`") for c in users.columns], *settings.columns)
