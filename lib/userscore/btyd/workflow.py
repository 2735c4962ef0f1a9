"""One BTYD snapshot at D: the per-customer summary (Spark), its distinct groups (the only thing the driver
receives), the fit on them and the gate's spend backtest; the summary stays persisted while the caller
writes it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.btyd.errors import FitError
from userscore.btyd.model import BTYDFit, fit_btyd
from userscore.btyd.spend_check import SpendCheck, check_spend, collect_holdout_groups, holdout_groups
from userscore.btyd.summary import SUMMARY_COLUMNS, SufficientStats, calibration_summary, collect_groups
from userscore.config.btyd import BTYDConfig
from userscore.errors import InputError
from userscore.keys import AS_OF


@dataclass(frozen=True)
class BTYDSnapshot:
    """The summary rows of snapshot D (with as_of_date), the groups fitted on, the fit, the spend backtest
    and stage seconds."""

    as_of: dt.date
    summary: DataFrame
    stats: SufficientStats
    fit: BTYDFit
    spend: SpendCheck
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def btyd_snapshot(
    orders: DataFrame,
    as_of: dt.date,
    btyd: BTYDConfig,
    storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK,
) -> Iterator[BTYDSnapshot]:
    """Summarise ``orders`` at D, fit on the groups, run the spend backtest; InputError (nothing written)
    when the fit fails (a backtest that cannot be made only fails the gate).

    The summary is read twice (groups, then the caller's write), hence the persist.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    summary = (
        calibration_summary(
            orders, as_of, calibration_days=btyd.calibration_days, exclude_refunded=btyd.exclude_refunded
        )
        .select(*SUMMARY_COLUMNS)
        .withColumn(AS_OF, F.lit(as_of))
        .persist(storage_level)
    )
    try:
        stats = collect_groups(summary, btyd.m_x_significant_digits, btyd.resolution_days)
        seconds["summary"] = time.perf_counter() - started
        if stats.n_customers == 0:
            raise InputError(f"no purchases before {as_of} in {btyd.orders_table}: nothing to fit")
        started = time.perf_counter()
        try:
            fit = fit_btyd(
                stats,
                time_unit=btyd.time_unit,
                observation_end=as_of,
                penalizer=btyd.penalizer,
                max_iter=btyd.max_iter,
            )
        except FitError as exc:
            # Typical cause: a and b running off together (dropout heterogeneity not identified by the data).
            raise InputError(
                f"BTYD fit at {as_of} failed: {exc}. A small btyd.penalizer (e.g. 0.001) keeps parameters "
                "that the data does not identify finite"
            ) from exc
        seconds["fit"] = time.perf_counter() - started
        started = time.perf_counter()
        spend = spend_backtest(orders, as_of, btyd)
        seconds["spend backtest"] = time.perf_counter() - started
        yield BTYDSnapshot(as_of, summary, stats, fit, spend, seconds)
    finally:
        summary.unpersist()


def spend_backtest(orders: DataFrame, as_of: dt.date, btyd: BTYDConfig) -> SpendCheck:
    """The gate's spend backtest at D - btyd.gate.spend_holdout_days (only its groups reach the driver)."""
    holdout = btyd.gate.spend_holdout_days
    groups = holdout_groups(
        orders,
        as_of,
        holdout,
        significant_digits=btyd.m_x_significant_digits,
        calibration_days=btyd.calibration_days,
        exclude_refunded=btyd.exclude_refunded,
    )
    split = as_of - dt.timedelta(days=holdout)
    return check_spend(collect_holdout_groups(groups), split, penalizer=btyd.penalizer, max_iter=btyd.max_iter)


def summary_lines(snap: BTYDSnapshot) -> list[str]:
    """What the job prints: customers, groups, parameters, log-likelihoods and diagnostics."""
    fit, bg, gg = snap.fit, snap.fit.model.bgnbd, snap.fit.model.gamma_gamma
    d = fit.diagnostics
    return [
        f"snapshot {snap.as_of}: {fit.n_customers:,} customers -> {fit.n_rfm_groups:,} (x, t_x, T) groups, "
        f"{fit.n_spend_groups:,} (x, m_x) groups; unit {fit.model.time_unit}, t_x and T at "
        f"{fit.resolution_days}-day resolution for the fit",
        f"BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} LL={fit.bgnbd.log_likelihood:.2f} "
        f"({fit.bgnbd.iterations} iterations)",
        f"Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} v={gg.v:.4f} LL={fit.gamma_gamma.log_likelihood:.2f} "
        f"on {fit.gamma_gamma.n_customers:,.0f} customers with x > 0",
        f"in-sample repeat purchases {d.expected_repeat_purchases:,.1f} expected vs {d.observed_repeat_purchases:,.0f} "
        f"observed; mean spend {d.model_mean_spend:.2f} model vs {d.observed_mean_spend:.2f} observed; "
        f"corr(x, m_x) {d.spend_frequency_correlation:.3f}",
        _spend_line(snap.spend),
    ]


def _spend_line(spend: SpendCheck) -> str:
    if spend.failure is not None:
        return f"spend backtest from {spend.split_date}: {spend.failure}"
    figures = ", ".join(f"{name} {spend.rmse[name]:.2f} / {spend.bias[name]:+.4f}" for name in spend.rmse)
    return (
        f"spend backtest from {spend.split_date}: {spend.customers:,.0f} customers, {spend.purchases:,.0f} "
        f"purchases; RMSE / bias {figures}"
    )
