"""A tiny hand-made snapshot for the profile and consumption tests: rows as dicts, frames with the
declared schemas, and AnalysisInputs around them."""

from __future__ import annotations

import datetime as dt

from userscore.analysis.inputs import AnalysisInputs
from userscore.catalog import declared_schema

D = dt.date(2026, 6, 1)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def order(order_id, user_id, at, amount, category="books", coupon=False, discount=0.0, refunded_at=None, pay=None):
    at = ts(at)
    return {
        "order_id": order_id,
        "user_id": user_id,
        "order_ts": at,
        "order_month": at.date().replace(day=1),
        "amount": amount,
        "category": category,
        "channel": "app",
        "payment_method": pay,
        "coupon_used": coupon,
        "discount_amount": discount,
        "is_refunded": refunded_at is not None,
        "item_count": 1,
        "refunded_at": ts(refunded_at) if refunded_at else None,
        "updated_at": at,
        "ingest_batch_id": "b1",
    }


ORDERS = [
    order("o1", "u1", "2026-01-10 10:00:00", 10.0, coupon=True, discount=5.0, pay="card"),
    order("o2", "u1", "2026-01-20 10:00:00", 30.0, category="toys", pay="card"),
    order("o3", "u1", "2026-03-01 10:00:00", 20.0, coupon=True, discount=2.0, pay="wallet"),
    order("o4", "u2", "2026-02-01 09:00:00", 70.0, category="electronics", pay="wallet"),
    order("o5", "u3", "2026-05-01 12:00:00", 0.0, coupon=True, discount=15.0, pay="card"),
    # refunded before D: not kept
    order("o6", "u4", "2026-04-01 12:00:00", 50.0, refunded_at="2026-04-05 00:00:00", pay="card"),
    # refund recorded after D: kept (not known at D)
    order("o7", "u4", "2026-05-20 12:00:00", 40.0, category=None, refunded_at="2026-06-10 00:00:00", pay=None),
    # outside the 365-day window, and at D itself: not kept
    order("o8", "u5", "2025-05-01 12:00:00", 100.0, pay="card"),
    order("o9", "u5", "2026-06-01 00:00:00", 100.0, pay="card"),
]

# user_id, registered_at, gender, age_band, region, member_level, registration_channel
USERS = [
    ("u1", "2026-05-01 08:00:00", "female", "25-34", "north", "gold", "organic"),
    ("u2", "2025-01-15 08:00:00", "male", "35-44", "south", "basic", "social"),
    ("u3", "2023-03-01 08:00:00", None, "25-34", "north", "basic", "organic"),
    ("u4", "2026-01-01 08:00:00", "female", "18-24", "east", "silver", "search_ad"),
    ("u5", "2025-09-01 08:00:00", "male", "25-34", "north", "basic", "organic"),
    ("u6", "2026-04-01 08:00:00", "female", "55+", "west", "basic", "store"),
]

# user_id, r_score, f_score, grade, churn_tier
SCORES = [
    ("u1", 5, 3, "A", "low"),
    ("u2", 3, 1, "A", "mid"),
    ("u3", 5, 3, "C", "low"),
    ("u4", 4, 1, "B", None),
    ("u5", None, None, "D", "high"),
    ("u6", None, None, "D", "high"),
]

# family, segment, user_id
SEGMENTS = [("retention", "high_risk", "u1"), ("retention", "low_risk", "u2"), ("retention", "low_risk", "u3")]


def kept(orders=ORDERS, days=365):
    """Plain Python: orders in [D - days, D) not refunded before D."""
    end = dt.datetime.combine(D, dt.time())
    start = end - dt.timedelta(days=days)
    return [
        o
        for o in orders
        if start <= o["order_ts"] < end and not (o["is_refunded"] and o["refunded_at"] and o["refunded_at"] < end)
    ]


def frame(spark, config, table, rows):
    schema = declared_schema(config.tables[table])
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def inputs(spark, config, orders=ORDERS) -> AnalysisInputs:
    users = [
        dict(zip(("user_id", "registered_at", "gender", "age_band", "region", "member_level", "registration_channel"),
                 (u[0], ts(u[1]), *u[2:]), strict=True), updated_at=ts(u[1]), ingest_batch_id="b1")
        for u in USERS
    ]  # fmt: skip
    scores = [
        {"user_id": u, "as_of_date": D, "r_score": r, "f_score": f, "grade": g, "churn_tier": c,
         "scored_at": dt.datetime.combine(D, dt.time())}
        for u, r, f, g, c in SCORES
    ]  # fmt: skip
    segments = [
        {"as_of_date": D, "family": fam, "segment": seg, "user_id": u, "strategy": "s", "channel": "c", "priority": 1,
         "is_control": False, "scored_at": dt.datetime.combine(D, dt.time())}
        for fam, seg, u in SEGMENTS
    ]  # fmt: skip
    empty = spark.createDataFrame([], "user_id string")
    return AnalysisInputs(
        as_of=D,
        events=empty,
        orders=frame(spark, config, "silver.orders", orders),
        users=frame(spark, config, "silver.users", users),
        scores=frame(spark, config, "scores.user_scores", scores),
        features=empty,
        segments=frame(spark, config, "audiences.segment_members", segments),
        capped_users=empty,
    )
