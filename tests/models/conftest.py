"""Hand-made silver rows and feature snapshots for the model tests."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import DataFrame, SparkSession

from tests.base_config import target_config
from userscore.config.models import LabelRule, PopulationRule

ORDER_COLUMNS = (
    "user_id string, order_ts timestamp, order_month date, amount double, is_refunded boolean, refunded_at timestamp"
)
EVENT_COLUMNS = "user_id string, event_ts timestamp, event_month date, event_type string"
CHANGE_COLUMNS = "user_id string, changed_at timestamp, from_level string, to_level string"
LEVELS = ("basic", "silver", "gold", "platinum")


def ts(text: str) -> dt.datetime:
    """'2026-03-01' or '2026-03-01 12:00:00' as a naive UTC datetime."""
    return dt.datetime.fromisoformat(text)


def orders(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """rows: (user_id, 'timestamp', amount, is_refunded[, 'refunded_at']); a refunded order without its
    refund time is refunded at its order time."""
    data = []
    for u, t, a, r, *refunded_at in rows:
        at = ts(refunded_at[0]) if refunded_at else ts(t) if r else None
        data.append((u, ts(t), ts(t).date().replace(day=1), float(a), r, at))
    return spark.createDataFrame(data, ORDER_COLUMNS)


def events(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """rows: (user_id, 'timestamp', event_type)."""
    data = [(u, ts(t), ts(t).date().replace(day=1), e) for u, t, e in rows]
    return spark.createDataFrame(data, EVENT_COLUMNS)


def level_changes(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """rows: (user_id, 'timestamp', from_level, to_level)."""
    return spark.createDataFrame([(u, ts(t), f, to) for u, t, f, to in rows], CHANGE_COLUMNS)


def keys(spark: SparkSession, users: list[str], dates: list[dt.date]) -> DataFrame:
    return spark.createDataFrame([(u, d) for d in dates for u in users], "user_id string, as_of_date date")


REPURCHASE = target_config(horizon_days=30, label=LabelRule(kind="any_order_within", include_refunded=False))
CHURN = target_config(
    horizon_days=60,
    population=PopulationRule(kind="active_within", lookback_days=90, include_refunded=True),
    label=LabelRule(kind="no_activity_within", include_refunded=True),
)
VIP = target_config(
    horizon_days=90,
    population=PopulationRule(kind="below_vip", levels=LEVELS, spend_threshold=1000.0, include_refunded=False),
    label=LabelRule(kind="level_rise_or_spend_crosses", levels=LEVELS, spend_threshold=1000.0, include_refunded=False),
)


@pytest.fixture
def empty_silver(spark):
    return {"orders": orders(spark, []), "events": events(spark, []), "level_changes": level_changes(spark, [])}


# -- a tiny learnable world for end-to-end runs ----------------------------------------------------------
E2E_DATES = [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
E2E_USERS = 600


def e2e_world(seed: int = 5) -> tuple[list[dict], list[dict], set[tuple[str, dt.date]]]:
    """Feature rows, silver order rows and the (user_id, as_of_date) that bought in (D, D + 30 days].

    The chance of buying rises with ``signal``; ``noise`` carries nothing. Orders fall 1-27 days after D (February has 28),
    so the 30-day windows of monthly snapshots never overlap.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    features, orders_rows, bought = [], [], set()
    for d in E2E_DATES:
        for i in range(E2E_USERS):
            user = f"u{i:04d}"
            signal = float(rng.normal())
            buys = rng.random() < 1.0 / (1.0 + np.exp(-(2.0 * signal - 0.5)))
            features.append(
                {
                    "user_id": user,
                    "as_of_date": d,
                    "signal": None if rng.random() < 0.03 else signal,
                    "noise": int(rng.integers(0, 10)),
                    "member_level": str(rng.choice(LEVELS)),
                }
            )
            if buys:
                bought.add((user, d))
                at = dt.datetime.combine(d, dt.time(12)) + dt.timedelta(days=int(rng.integers(1, 28)))
                orders_rows.append(
                    {
                        "order_id": f"o-{user}-{d:%Y%m}",
                        "user_id": user,
                        "order_ts": at,
                        "order_month": at.date().replace(day=1),
                        "amount": 50.0,
                        "category": "books",
                        "channel": "app",
                        "coupon_used": False,
                        "discount_amount": 0.0,
                        "is_refunded": False,
                        "item_count": 1,
                        "refunded_at": None,
                        "updated_at": at,
                        "ingest_batch_id": "b1",
                    }
                )
    return features, orders_rows, bought
