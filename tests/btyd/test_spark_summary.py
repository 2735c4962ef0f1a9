"""The Spark BTYD calibration summary and its driver-side groups: hand-worked cases and a plain-Python twin."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections import Counter, defaultdict
from decimal import Decimal

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from tests.base_config import base_config
from userscore.btyd import fit_bgnbd, fit_gamma_gamma
from userscore.btyd.model import fit_btyd
from userscore.btyd.summary import (
    calibration_summary,
    collect_groups,
    rfm_groups,
    round_significant,
    spend_groups,
)
from userscore.btyd.workflow import btyd_snapshot
from userscore.errors import InputError

ORDERS = (
    "user_id string, order_ts timestamp, order_month date, amount double, is_refunded boolean, refunded_at timestamp"
)
SUMMARY = "user_id string, x long, t_x_days int, t_cal_days int, m_x double"
# The random population below has no dropout process, so its unpenalised BG/NBD fit is degenerate.
PENALIZER = 0.001
D = dt.date(2026, 3, 1)  # snapshot: orders before 2026-03-01 00:00 UTC; last observed day 2026-02-28


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _orders(spark, rows):
    """rows: (user_id, 'timestamp', amount, is_refunded[, 'refunded_at']); a refunded order without its
    refund time is refunded at its order time."""
    data = []
    for u, t, a, r, *refunded_at in rows:
        at = _ts(refunded_at[0]) if refunded_at else _ts(t) if r else None
        data.append((u, _ts(t), _ts(t).date().replace(day=1), float(a), r, at))
    return spark.createDataFrame(data, ORDERS)


HAND_ORDERS = [
    # u1: two orders on Jan 1 are one purchase (15); Feb 28 23:59:59 is the last observed second; the order
    # at D 00:00 is not observed.
    ("u1", "2026-01-01 10:00:00", 10.0, False),
    ("u1", "2026-01-01 18:00:00", 5.0, False),
    ("u1", "2026-01-11 09:00:00", 20.0, False),
    ("u1", "2026-02-28 23:59:59", 30.0, False),
    ("u1", "2026-03-01 00:00:00", 100.0, False),
    # u2: one purchase: no repeat.
    ("u2", "2026-02-10 12:00:00", 40.0, False),
    # u3: the refunded order is no purchase; an order of amount 0 is one (spend 0).
    ("u3", "2026-01-05 08:00:00", 10.0, False),
    ("u3", "2026-01-20 08:00:00", 50.0, True),
    ("u3", "2026-02-01 08:00:00", 0.0, False),
    # u4: only a refunded order -> not a customer yet.
    ("u4", "2026-01-15 08:00:00", 25.0, True),
    # u5: only an order after D -> not a customer yet.
    ("u5", "2026-03-02 08:00:00", 25.0, False),
    # u6: the refunded first order does not start the customer; Jan 3 (7 + 3) is the first purchase.
    ("u6", "2026-01-02 08:00:00", 10.0, True),
    ("u6", "2026-01-03 08:00:00", 7.0, False),
    ("u6", "2026-01-03 20:00:00", 3.0, False),
    ("u6", "2026-02-15 08:00:00", 12.5, False),
]


def test_hand_worked_summary(spark) -> None:
    got = calibration_summary(_orders(spark, HAND_ORDERS), D)

    expected = [
        # days Jan 1, Jan 11, Feb 28: x = 2; t_x = Jan 1 -> Feb 28 = 30 + 28 = 58; T = 58; m_x = (20 + 30) / 2.
        ("u1", 2, 58, 58, 25.0),
        # T = Feb 10 -> Feb 28 = 18.
        ("u2", 0, 0, 18, None),
        # days Jan 5, Feb 1: t_x = 26 + 1 = 27; T = Jan 5 -> Feb 28 = 26 + 28 = 54; m_x = 0 / 1.
        ("u3", 1, 27, 54, 0.0),
        # days Jan 3, Feb 15: t_x = 28 + 15 = 43; T = 28 + 28 = 56; m_x = 12.5.
        ("u6", 1, 43, 56, 12.5),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, SUMMARY))


def test_refunded_orders_counted_when_asked(spark) -> None:
    got = calibration_summary(_orders(spark, HAND_ORDERS), D, exclude_refunded=False)

    expected = [
        ("u1", 2, 58, 58, 25.0),
        ("u2", 0, 0, 18, None),
        # days Jan 5, Jan 20, Feb 1: m_x = (50 + 0) / 2.
        ("u3", 2, 27, 54, 25.0),
        # T = Jan 15 -> Feb 28 = 16 + 28 = 44.
        ("u4", 0, 0, 44, None),
        # days Jan 2, Jan 3, Feb 15: t_x = 1 + 28 + 15 = 44, T = 29 + 28 = 57, m_x = (10 + 12.5) / 2.
        ("u6", 2, 44, 57, 11.25),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, SUMMARY))


def test_calibration_window_and_cutoff_boundary(spark) -> None:
    # 30 days: orders in [Jan 30, Mar 1). Every customer's first purchase is their first one in the window.
    got = calibration_summary(_orders(spark, HAND_ORDERS), D, calibration_days=30)
    expected = [
        ("u1", 0, 0, 0, None),  # Feb 28 only: bought on the last observed day, T = 0
        ("u2", 0, 0, 18, None),
        ("u3", 0, 0, 27, None),  # Feb 1 -> Feb 28
        ("u6", 0, 0, 13, None),  # Feb 15 -> Feb 28
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, SUMMARY))

    # One day later the order at 2026-03-01 00:00 is observed: u1 gets a third repeat, T grows by one day.
    later = calibration_summary(_orders(spark, HAND_ORDERS), D + dt.timedelta(days=1)).where("user_id = 'u1'")
    assertDataFrameEqual(later, spark.createDataFrame([("u1", 3, 59, 59, 50.0)], SUMMARY))


def test_round_significant(spark) -> None:
    values = [1234.5, 1234.4, 0.012345, 98765.4, 35.08, 0.0, -3.0, None]
    df = spark.createDataFrame([(v,) for v in values], "v double")
    got = [r[0] for r in df.select(round_significant(df.v, 4)).collect()]
    assert got == [1235.0, 1234.0, 0.01235, 98770.0, 35.08, None, None, None]


# -- a random population: Spark vs a plain-Python twin, groups vs customers ---------------------------------
def _random_orders(seed: int = 11, users: int = 400) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for i in range(users):
        n = int(rng.geometric(0.3))
        first = rng.uniform(0, 400)
        rate = rng.gamma(1.0, 0.05)
        times = [first + float(v) for v in np.cumsum(rng.exponential(1 / rate, n)) - rng.exponential(1 / rate)]
        for t in times:
            when = start + dt.timedelta(days=max(t, first))
            amount = round(float(rng.gamma(3.0, 12.0)), 2)
            rows.append((f"c{i:04d}", when, amount, bool(rng.uniform() < 0.05)))
    return rows


def _python_summary(rows: list[tuple], end: dt.date) -> dict[str, tuple[int, int, int, float | None]]:
    """The summary in plain Python: spend per (customer, day) of non-refunded orders before ``end``, summed
    exactly (Decimal), m_x = float(repeat spend) / x."""
    by_day: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for user, when, amount, refunded in rows:
        if not refunded and when < dt.datetime.combine(end, dt.time(), dt.UTC):
            by_day[user][when.date()] += Decimal(repr(amount))
    out = {}
    for user, spend in by_day.items():
        days = sorted(spend)
        repeat = [spend[d] for d in days[1:]]
        last_observed = end - dt.timedelta(days=1)
        out[user] = (
            len(days) - 1,
            (days[-1] - days[0]).days,
            (last_observed - days[0]).days,
            float(sum(repeat)) / len(repeat) if repeat else None,
        )
    return out


def _python_round(v: float, digits: int) -> float:
    k = digits - 1 - math.floor(math.log10(v))
    return math.floor(v * 10.0**k + 0.5) / 10.0**k if k >= 0 else math.floor(v / 10.0**-k + 0.5) * 10.0**-k


@pytest.fixture(scope="module")
def population(spark):
    rows = _random_orders()
    end = dt.date(2026, 1, 1)
    data = [(u, w, w.date().replace(day=1), a, r, w if r else None) for u, w, a, r in rows]
    summary = calibration_summary(spark.createDataFrame(data, ORDERS), end).persist()
    yield rows, end, summary
    summary.unpersist()


def test_summary_equals_plain_python(spark, population) -> None:
    rows, end, summary = population
    expected = [(u, *values) for u, values in _python_summary(rows, end).items()]
    assertDataFrameEqual(summary, spark.createDataFrame(expected, SUMMARY), rtol=0, atol=0)


def test_driver_groups_equal_per_customer_rows(population) -> None:
    rows, end, summary = population
    per_customer = _python_summary(rows, end)
    stats = collect_groups(summary, significant_digits=4)

    # The groups are exactly a GROUP BY of the per-customer rows.
    rfm = Counter((x, tx, tc) for x, tx, tc, _ in per_customer.values())
    assert sorted(zip(stats.x, stats.t_x_days, stats.t_cal_days, stats.weight, strict=True)) == sorted(
        (*k, n) for k, n in rfm.items()
    )
    spend = Counter((x, _python_round(m, 4)) for x, _, _, m in per_customer.values() if x > 0 and m > 0)
    assert sorted(zip(stats.spend_x, stats.spend_m_x, stats.spend_weight, strict=True)) == sorted(
        (*k, n) for k, n in spend.items()
    )
    assert stats.n_customers == len(per_customer) and stats.n_rfm_groups < len(per_customer)

    # Fitting on the groups is fitting on one row per customer (weight 1), in weeks. The population is no BG/NBD
    # process (no dropout): unpenalised, a and b are not identified (test_bgnbd), so both sides are penalised.
    fit = fit_btyd(stats, time_unit="weeks", observation_end=end, penalizer=PENALIZER)
    rows_x = np.array([v[0] for v in per_customer.values()], dtype=float)
    bg = fit_bgnbd(
        rows_x,
        np.array([v[1] / 7 for v in per_customer.values()]),
        np.array([v[2] / 7 for v in per_customer.values()]),
        np.ones(len(per_customer)),
        penalizer=PENALIZER,
    )
    spenders = [(x, _python_round(m, 4)) for x, _, _, m in per_customer.values() if x > 0 and m > 0]
    gg = fit_gamma_gamma(
        [s[0] for s in spenders], [s[1] for s in spenders], np.ones(len(spenders)), penalizer=PENALIZER
    )
    assert fit.model.bgnbd == bg.params and fit.bgnbd.log_likelihood == bg.log_likelihood
    assert fit.model.gamma_gamma == gg.params and fit.gamma_gamma.log_likelihood == gg.log_likelihood


def _python_round_days(days: int, resolution: int) -> int:
    return math.floor(days / resolution + 0.5) * resolution


def test_week_resolution_groups_and_fit(population) -> None:
    rows, end, summary = population
    per_customer = _python_summary(rows, end)
    stats = collect_groups(summary, significant_digits=4, resolution_days=7)

    # The groups are a GROUP BY of the per-customer rows with t_x and T rounded to the nearest week.
    weekly = Counter(
        (x, _python_round_days(tx, 7), _python_round_days(tc, 7)) for x, tx, tc, _ in per_customer.values()
    )
    assert sorted(zip(stats.x, stats.t_x_days, stats.t_cal_days, stats.weight, strict=True)) == sorted(
        (*k, n) for k, n in weekly.items()
    )
    assert stats.resolution_days == 7 and stats.n_rfm_groups < collect_groups(summary, 4).n_rfm_groups

    # Fitting the groups is fitting one rounded row per customer. (This population is no BG/NBD process: its
    # dropout heterogeneity is not identified, a and b run off together unpenalised; a small penalizer pins them.)
    fit = fit_btyd(stats, time_unit="weeks", observation_end=end, penalizer=PENALIZER)
    bg = fit_bgnbd(
        np.array([v[0] for v in per_customer.values()], dtype=float),
        np.array([_python_round_days(v[1], 7) / 7 for v in per_customer.values()]),
        np.array([_python_round_days(v[2], 7) / 7 for v in per_customer.values()]),
        np.ones(len(per_customer)),
        penalizer=PENALIZER,
    )
    assert fit.model.bgnbd == bg.params and fit.resolution_days == 7


def test_fit_cost_depends_on_groups_not_customers(population) -> None:
    """The same groups standing for 1,024 times the customers: the optimiser sees arrays of one entry per
    group and minimises the mean per customer, so it takes the same steps to the same parameters; only the
    log-likelihood (a weighted sum) scales. A power of two keeps every weighted sum exact, hence bit-equal."""
    _, end, summary = population
    stats = collect_groups(summary, significant_digits=4)
    many = dataclasses.replace(stats, weight=stats.weight * 1024, spend_weight=stats.spend_weight * 1024)

    fit, fit_many = (fit_btyd(s, time_unit="weeks", observation_end=end, penalizer=PENALIZER) for s in (stats, many))
    assert fit_many.n_customers == 1024 * fit.n_customers
    assert (fit_many.n_rfm_groups, fit_many.n_spend_groups) == (fit.n_rfm_groups, fit.n_spend_groups)
    assert (fit_many.bgnbd.iterations, fit_many.gamma_gamma.iterations) == (
        fit.bgnbd.iterations,
        fit.gamma_gamma.iterations,
    )
    assert fit_many.model == fit.model
    assert fit_many.bgnbd.log_likelihood == 1024 * fit.bgnbd.log_likelihood


def test_groups_of_hand_orders(spark) -> None:
    summary = calibration_summary(_orders(spark, HAND_ORDERS + [("u7", "2026-02-10 09:00:00", 1.0, False)]), D)

    # u2 and u7 share (0, 0, 18); spend groups only for x > 0 and m_x > 0 (u3's m_x is 0).
    assertDataFrameEqual(
        rfm_groups(summary),
        spark.createDataFrame(
            [(2, 58, 58, 1), (0, 0, 18, 2), (1, 27, 54, 1), (1, 43, 56, 1)],
            "x long, t_x_days int, t_cal_days int, customers long",
        ),
    )
    # At 7-day resolution: 58 -> 56, 18 -> 21, 27 -> 28, 54 -> 56, 43 -> 42, 56 -> 56 (nearest multiple of 7).
    assertDataFrameEqual(
        rfm_groups(summary, resolution_days=7),
        spark.createDataFrame(
            [(2, 56, 56, 1), (0, 0, 21, 2), (1, 28, 56, 1), (1, 42, 56, 1)],
            "x long, t_x_days int, t_cal_days int, customers long",
        ),
    )
    assertDataFrameEqual(
        spend_groups(summary, 4),
        spark.createDataFrame([(2, 25.0, 1), (1, 12.5, 1)], "x long, m_x double, customers long"),
    )


def test_snapshot_fit_failure_is_a_clear_input_error(spark) -> None:
    # Nobody bought twice: BG/NBD has no optimum (the likelihood rises as r -> 0); the job stops with exit 2.
    orders = _orders(spark, [("u1", "2026-01-01 10:00:00", 10.0, False), ("u2", "2026-02-01 10:00:00", 5.0, False)])
    expected = "BTYD fit at 2026-03-01 failed: BG/NBD fit needs repeat purchases: none of the 2 customers has x > 0"
    with pytest.raises(InputError, match=re.escape(expected)), btyd_snapshot(orders, D, base_config().btyd):
        pass


def test_a_refund_counts_only_in_summaries_after_it_was_recorded(spark) -> None:
    rows = [
        ("r1", "2026-01-10 10:00:00", 20.0, False),
        ("r1", "2026-02-01 10:00:00", 30.0, True, "2026-03-05 00:00:00"),  # refund recorded after D
        ("r2", "2026-01-15 10:00:00", 40.0, True, "2026-02-20 00:00:00"),  # refund recorded before D
    ]
    # At D (last day Feb 28): r1 bought on Jan 10 and Feb 1: x = 1, t_x = 22, T = 49, m_x = 30; r2 has none.
    at_d = calibration_summary(_orders(spark, rows), D)
    assertDataFrameEqual(at_d, spark.createDataFrame([("r1", 1, 22, 49, 30.0)], SUMMARY))
    # At Mar 6 (last day Mar 5) the Feb 1 refund is known: r1 has only Jan 10: x = 0, T = 54.
    later = calibration_summary(_orders(spark, rows), dt.date(2026, 3, 6))
    assertDataFrameEqual(later, spark.createDataFrame([("r1", 0, 0, 54, None)], SUMMARY))
