"""The BTYD columns of the scores: the champion's parameters applied to each customer's summary at D,
checked against the BG/NBD and Gamma-Gamma closed forms worked out here by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import types as T
from scipy.special import hyp2f1

from tests.conftest import make_config
from tests.scoring.conftest import tracking_overrides
from userscore.btyd.bgnbd import BGNBDParams
from userscore.btyd.gamma_gamma import GammaGammaParams
from userscore.btyd.model import BTYDModel, ScoreSettings
from userscore.btyd.summary import calibration_summary
from userscore.catalog import Catalog
from userscore.errors import InputError
from userscore.scoring.customer_base import CustomerBase, load_customer_base, with_customer_base

D = dt.date(2026, 3, 1)
R, ALPHA, A, B = 0.5, 10.0, 0.8, 2.5  # days
P, Q, V = 6.0, 4.0, 15.0

ORDERS = [
    # u1: Jan 1 twice (one purchase day), Jan 11, Feb 10 -> x = 2, t_x = 40, T = Feb 28 - Jan 1 = 58, m_x = 50.
    ("u1", dt.datetime(2026, 1, 1, 10), 100.0, False),
    ("u1", dt.datetime(2026, 1, 1, 15), 50.0, False),
    ("u1", dt.datetime(2026, 1, 11, 9), 30.0, False),
    ("u1", dt.datetime(2026, 2, 10, 20), 70.0, False),
    # u2: one purchase -> x = 0, t_x = 0, T = 27.
    ("u2", dt.datetime(2026, 2, 1, 12), 20.0, False),
    # u3: only an order at D (excluded); u4: only a refunded order (no purchase occasion).
    ("u3", dt.datetime(2026, 3, 1, 0), 40.0, False),
    ("u4", dt.datetime(2026, 1, 5, 8), 60.0, True),
]


def p_alive(x: int, t_x: float, big_t: float) -> float:
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + A / (B + x - 1) * ((ALPHA + big_t) / (ALPHA + t_x)) ** (R + x))


def expected_purchases(t: float, x: int, t_x: float, big_t: float) -> float:
    """Fader, Hardie & Lee (2005), eq. 10."""
    z = t / (ALPHA + big_t + t)
    head = (A + B + x - 1) / (A - 1)
    body = 1 - ((ALPHA + big_t) / (ALPHA + big_t + t)) ** (R + x) * hyp2f1(R + x, B + x, A + B + x - 1, z)
    tail = 1 + (A / (B + x - 1) * ((ALPHA + big_t) / (ALPHA + t_x)) ** (R + x) if x > 0 else 0.0)
    return head * body / tail


def test_btyd_columns_match_the_closed_forms_and_are_null_without_a_purchase(spark):
    schema = "user_id string, order_ts timestamp, amount double, is_refunded boolean, refunded_at timestamp"
    orders = spark.createDataFrame([(*o, o[1] if o[3] else None) for o in ORDERS], schema)
    users = spark.createDataFrame([(u,) for u in ("u1", "u2", "u3", "u4", "u5")], "user_id string")
    model = BTYDModel(BGNBDParams(R, ALPHA, A, B), GammaGammaParams(P, Q, V), "days", D)
    settings = ScoreSettings((30,), 365, 30, 0.1)
    base = CustomerBase(settings, "userscore-btyd", model, "7", calibration_summary(orders, D))

    got = {r["user_id"]: r.asDict() for r in with_customer_base(users, base).collect()}

    assert got["u1"]["p_alive"] == pytest.approx(p_alive(2, 40, 58), rel=1e-9)
    assert got["u2"]["p_alive"] == 1.0
    assert got["u1"]["expected_purchases_30d"] == pytest.approx(expected_purchases(30, 2, 40, 58), rel=1e-6)
    assert got["u2"]["expected_purchases_30d"] == pytest.approx(expected_purchases(30, 0, 0, 27), rel=1e-6)
    # Gamma-Gamma: p (v + x m_x) / (p x + q - 1); x = 0 gives the population mean p v / (q - 1).
    assert got["u1"]["expected_avg_value"] == pytest.approx(6 * (15 + 2 * 50) / (6 * 2 + 4 - 1))
    assert got["u2"]["expected_avg_value"] == pytest.approx(6 * 15 / 3)
    assert [got[u]["btyd_model_version"] for u in ("u1", "u2", "u3")] == ["7", "7", "7"]
    for user in ("u3", "u4", "u5"):
        assert [got[user][c] for c in settings.columns] == [None] * len(settings.columns), user
    assert math.isfinite(got["u1"]["clv_365d"]) and got["u1"]["clv_365d"] > 0


def test_without_a_champion_the_columns_are_null_when_optional_and_the_job_fails_when_required(spark, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    tracking = tracking_overrides(store)
    optional = make_config(tmp_path, tracking)
    base = load_customer_base(Catalog(spark, optional), optional, D)
    assert (base.model, base.version, base.columns) == (
        None,
        None,
        ["p_alive", "expected_purchases_30d", "expected_purchases_90d", "expected_purchases_365d",
         "expected_avg_value", "clv_365d", "btyd_model_version"],
    )  # fmt: skip
    users = spark.createDataFrame([("u1",)], "user_id string")
    row = with_customer_base(users, base).first().asDict()
    assert row == {"user_id": "u1", **dict.fromkeys(base.columns)}
    schema = with_customer_base(users, base).schema
    assert schema["p_alive"].dataType == T.DoubleType() and schema["btyd_model_version"].dataType == T.StringType()

    required = make_config(tmp_path, {**tracking, "scoring": {"btyd": {"optional": False}}})
    with pytest.raises(InputError, match="no version of userscore-btyd holds alias 'champion'"):
        load_customer_base(Catalog(spark, required), required, D)
