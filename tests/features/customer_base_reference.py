"""The customer-base family worked out in plain Python: a silver world BG/NBD can be fitted on, the BTYD
summary per user, and the model columns from the btyd package's numpy formulas at parameters fitted on
per-customer rows (not on the Spark groups).

Semantics written out independently of userscore.btyd.summary: purchases are the distinct days of the
orders before D not refunded before D; x = days - 1, t_x = last - first day, T = (D - 1 day) - first day.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np

from tests.features.silver import Silver, order, user
from userscore.btyd import BGNBDParams, expected_purchases, fit_bgnbd, probability_alive

UNIT_DAYS = 7  # tests/features/features.yaml: customer_base.time_unit weeks, fit_resolution_days 1
HORIZONS = (30, 90)  # tests/features/features.yaml: customer_base.horizons_days


def summary(silver: Silver, d: dt.date) -> dict[str, tuple[int, int, int]]:
    """user_id -> (x, t_x_days, T_days) for every user with a kept purchase before ``d``."""
    d_ts = dt.datetime(d.year, d.month, d.day)
    days: dict[str, set[dt.date]] = {}
    for o in silver.orders:
        refunded = o["is_refunded"] and o["refunded_at"] is not None and o["refunded_at"] < d_ts
        if o["order_ts"] < d_ts and not refunded:
            days.setdefault(o["user_id"], set()).add(o["order_ts"].date())
    last_day = d - dt.timedelta(days=1)
    return {u: (len(s) - 1, (max(s) - min(s)).days, (last_day - min(s)).days) for u, s in days.items()}


def fitted_params(stats: dict[str, tuple[int, int, int]]) -> BGNBDParams:
    """BG/NBD fitted on one row per customer (weight 1), in weeks."""
    x, t_x, t_cal = (np.array([s[i] for s in stats.values()], dtype=float) for i in range(3))
    return fit_bgnbd(x, t_x / UNIT_DAYS, t_cal / UNIT_DAYS, np.ones_like(x)).params


def columns(
    stats: dict[str, tuple[int, int, int]],
    user_ids: list[str],
    params: BGNBDParams | None,
    horizons: tuple[int, ...] = HORIZONS,
) -> dict[str, dict[str, object]]:
    """user_id -> the bgnbd_* columns: non-buyers 0 (model columns 0), model columns None without a fit."""
    out = {}
    for uid in user_ids:
        x, t_x, t_cal = stats.get(uid, (0, 0, 0))
        row: dict[str, object] = {"bgnbd_x": x, "bgnbd_t_x_days": t_x, "bgnbd_T_days": t_cal}
        model = {"bgnbd_p_alive": None, **{f"bgnbd_expected_purchases_{h}d": None for h in horizons}}
        if params is not None and uid not in stats:
            model = dict.fromkeys(model, 0.0)
        elif params is not None:
            args = (x, t_x / UNIT_DAYS, t_cal / UNIT_DAYS)
            model = {"bgnbd_p_alive": float(probability_alive(params, *args))}
            for h in horizons:
                model[f"bgnbd_expected_purchases_{h}d"] = float(expected_purchases(params, h / UNIT_DAYS, *args))
        out[uid] = row | model
    return out


def customer_world(d: dt.date, buyers: int = 80, seed: int = 22) -> Silver:
    """``buyers`` customers with a first purchase in the two years before ``d`` and BG/NBD-like repeats
    (a per-customer weekly rate, a dropout chance after each purchase), plus two users who never buy.

    Some orders share a day (one purchase), some are refunded before ``d`` (no purchase); all before ``d``.
    """
    rng = random.Random(seed)
    d_ts = dt.datetime(d.year, d.month, d.day)
    start = d_ts - dt.timedelta(days=730)
    users, orders = [], []
    for i in range(buyers):
        uid = f"c{i:03d}"
        first = start + dt.timedelta(days=rng.randrange(0, 700), hours=rng.randrange(0, 24))
        users.append(user(uid, first - dt.timedelta(days=1)))
        rate = rng.gammavariate(0.8, 1 / 4.0)  # purchases per week
        dropout = rng.betavariate(0.8, 2.5)  # chance of dropping out after each purchase
        ts, n = first, 0
        while ts < d_ts:
            orders.append(order(f"o{uid}-{n}", uid, ts, 10.0 + n))
            if n % 5 == 2:  # a second order the same day: still one purchase
                orders.append(order(f"o{uid}-{n}b", uid, ts + dt.timedelta(minutes=5), 3.0))
            n += 1
            if rng.random() < dropout or rate == 0:  # dropped out after this purchase
                break
            ts += dt.timedelta(days=7 * rng.expovariate(rate))
        if i % 7 == 0:  # a refund recorded before d: that day is no purchase
            refund_day = first + dt.timedelta(days=3)
            if refund_day < d_ts:
                orders.append(order(f"o{uid}-r", uid, refund_day, 50.0, refunded=True))
    # h1, worked by hand in test_customer_base.py: purchase days D-300 (two orders), D-100 and D-10 (late
    # evening); the order of D-200 was refunded before D.
    day = dt.timedelta(days=1)
    users.append(user("h1", d_ts - 400 * day))
    orders += [
        order("h1-a", "h1", d_ts - 300 * day + dt.timedelta(hours=9), 20.0),
        order("h1-b", "h1", d_ts - 300 * day + dt.timedelta(hours=18), 5.0),
        order("h1-c", "h1", d_ts - 200 * day, 40.0, refunded=True, refunded_at=d_ts - 150 * day),
        order("h1-d", "h1", d_ts - 100 * day, 15.0),
        order("h1-e", "h1", d_ts - 9 * day - dt.timedelta(hours=1), 25.0),
    ]
    users += [user("n1", start), user("n2", d_ts - 2 * day)]
    return Silver(users, orders, [], [])
