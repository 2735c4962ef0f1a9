"""The customer-base (BG/NBD) family: point-in-time summary, fit at D, scores, defaults and no leak."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual
from scipy.special import hyp2f1

from tests.features import customer_base_reference as reference
from tests.features.conftest import compute
from tests.features.silver import D_TS, D, Silver, order, user
from userscore.config.columns import customer_base_columns

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def world() -> Silver:
    return reference.customer_world(D)


@pytest.fixture(scope="module")
def world_snapshot(spark, features_config, world):
    features, _ = compute(spark, features_config, world)
    return features.select("user_id", *customer_base_columns(features_config.features.customer_base))


def _frame(spark, like, rows: dict[str, dict]):
    return spark.createDataFrame([Row(user_id=u, **r) for u, r in rows.items()], like.schema)


def test_columns_match_a_per_customer_fit_and_the_numpy_formulas(spark, world, world_snapshot):
    stats = reference.summary(world, D)
    params = reference.fitted_params(stats)
    users = [u["user_id"] for u in world.users]
    expected = _frame(spark, world_snapshot, reference.columns(stats, users, params))
    assertDataFrameEqual(world_snapshot, expected, rtol=1e-7)


def test_a_customer_worked_by_hand(spark, world, world_snapshot):
    h1 = world_snapshot.where("user_id = 'h1'").first()
    # Purchase days D-300 (two orders: one purchase), D-100, D-10; D-200 was refunded before D:
    # x = 2, t_x = 300 - 10 = 290, T = (D - 1) - (D - 300) = 299.
    assert (h1.bgnbd_x, h1.bgnbd_t_x_days, h1.bgnbd_T_days) == (2, 290, 299)
    params = reference.fitted_params(reference.summary(world, D))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, t_cal = 2, 290 / 7, 299 / 7
    # Fader, Hardie & Lee (2005) eq. 13 and eq. 10, written out here.
    p_alive = 1 / (1 + a / (b + x - 1) * ((alpha + t_cal) / (alpha + t_x)) ** (r + x))
    assert h1.bgnbd_p_alive == pytest.approx(p_alive, rel=1e-7)
    for h, got in ((30, h1.bgnbd_expected_purchases_30d), (90, h1.bgnbd_expected_purchases_90d)):
        t = h / 7
        z = t / (alpha + t_cal + t)
        bracket = 1 - ((alpha + t_cal) / (alpha + t_cal + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        assert got == pytest.approx((a + b + x - 1) / (a - 1) * bracket * p_alive, rel=1e-7)
    assert 0 < h1.bgnbd_expected_purchases_30d < h1.bgnbd_expected_purchases_90d


def test_users_without_a_purchase_are_no_customers_yet(world_snapshot):
    for uid in ("n1", "n2"):
        row = world_snapshot.where(f"user_id = '{uid}'").first()
        assert tuple(row)[1:] == (0, 0, 0, 0.0, 0.0, 0.0)
    # Every buyer has model values when the fit succeeds.
    assert world_snapshot.where("bgnbd_p_alive IS NULL OR bgnbd_expected_purchases_90d IS NULL").count() == 0


def _later(world: Silver) -> Silver:
    """``world`` plus everything at or after D: orders at D and later (also by a user registered after D),
    and refunds recorded at D or later of orders placed before D."""
    changed = copy.deepcopy(world)
    refunded = 0
    for o in changed.orders:
        if o["user_id"] in ("c001", "c002", "h1") and not o["is_refunded"]:
            o["is_refunded"], o["refunded_at"] = True, D_TS + refunded * DAY
            o["updated_at"] = o["refunded_at"]
            refunded += 1
    assert refunded >= 5
    changed.orders += [
        order("late-1", "h1", D_TS, 99.0),
        order("late-2", "c003", D_TS + dt.timedelta(seconds=1), 10.0),
        order("late-3", "n1", D_TS + 30 * DAY, 10.0),
        order("late-4", "late-user", D_TS + 2 * DAY, 10.0),
        order("late-5", "late-user", D_TS + 9 * DAY, 10.0),
    ]
    changed.users.append(user("late-user", D_TS + DAY))
    return changed


def test_rows_at_or_after_d_change_no_customer_base_column(spark, features_config, world, world_snapshot):
    later, _ = compute(spark, features_config, _later(world))
    # Exact equality: the fit at D sees the same groups, so the same parameters and scores.
    assertDataFrameEqual(later.select(*world_snapshot.columns), world_snapshot)


def test_a_refund_recorded_before_d_does_change_them(spark, features_config, world, world_snapshot):
    # The control for the leak test: the same kind of change, recorded before D, is seen.
    changed = copy.deepcopy(world)
    (last,) = [o for o in changed.orders if o["order_id"] == "h1-e"]
    last["is_refunded"], last["refunded_at"] = True, D_TS - DAY
    features, _ = compute(spark, features_config, changed)
    h1 = features.where("user_id = 'h1'").first()
    # h1's purchases are now D-300 and D-100: x = 1, t_x = 200, T = 299.
    assert (h1.bgnbd_x, h1.bgnbd_t_x_days, h1.bgnbd_T_days) == (1, 200, 299)
    before = world_snapshot.where("user_id = 'h1'").first()
    assert h1.bgnbd_p_alive < before.bgnbd_p_alive


def test_a_failed_fit_leaves_the_model_columns_null_and_the_summary_filled(scenario_snapshot):
    # The scenario's five buyers do not identify BG/NBD (a and b run off together): every user keeps
    # x, t_x and T, and P(alive) and the expected purchases are null for the whole snapshot.
    features, _ = scenario_snapshot
    got = {
        r.user_id: tuple(r)[1:]
        for r in features.select("user_id", "bgnbd_x", "bgnbd_t_x_days", "bgnbd_T_days", "bgnbd_p_alive").collect()
    }
    # u1: kept purchase days 2024-03-01 .. 2026-02-28 (o4 refunded); u2: o7 on 2026-02-01 (o6 refunded);
    # u7: o9 on the last day before D (o8 at D is not observed); u8, u9: refunds recorded at/after D count.
    assert got == {
        "u1": (3, 729, 729, None),
        "u2": (0, 0, 27, None),
        "u3": (0, 0, 0, None),
        "u4": (0, 0, 0, None),
        "u7": (0, 0, 0, None),
        "u8": (1, 51, 109, None),
        "u9": (1, 31, 172, None),
    }
    assert features.where("bgnbd_expected_purchases_30d IS NOT NULL").count() == 0


def test_the_fit_is_logged_per_snapshot(spark, features_config, world):
    from userscore.features import snapshot

    with snapshot(world.sources(spark, features_config), D, features_config.features) as snap:
        text = snap.customer_base.describe()
    stats = reference.summary(world, D)
    params = reference.fitted_params(stats)
    assert text == (
        f"BG/NBD r={params.r:.4g} alpha={params.alpha:.4g} a={params.a:.4g} b={params.b:.4g} "
        f"on 81 customers ({len(set(stats.values()))} groups)"
    )
