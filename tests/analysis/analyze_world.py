"""A hand-made snapshot for the analyze job's tests: silver users, orders and events, and partition D of
scores, features and segment members, written through the catalog into a private warehouse.

D = 2026-03-01, look-back 10 days (events from 2026-02-19 00:00), at most 3 events per user:
- bot: 5 events in the window, one before it, one at D -> capped, keeps its latest 3: b5, b4, then of
  b2 and b3 (the same second, straddling the cut) the larger id b3;
- human: 2 events in the window -> both kept;
- orders: o1 before D refunded before D (refunded), o2 before D refunded at D (not yet refunded at D),
  o3 at D (after the snapshot, left out);
- users: bot and human registered before D, late registered at D (left out). silver.users holds the
  latest level (bot gold, human platinum: human's upgrade came after D); the features partition D holds
  the levels at D (bot gold, human silver): the loader takes those.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from userscore.catalog import Catalog, declared_schema

D = dt.date(2026, 3, 1)
PREVIOUS = dt.date(2026, 1, 1)
SETTINGS = {"analysis": {"lookback_days": 10, "max_events_per_user": 3}}


def ts(day: int, hour: int = 12, month: int = 2) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


# (event_id, user_id, event_ts, event_type)
EVENTS = [
    ("b0", "bot", ts(18, 23), "view"),  # before the window (window starts 2026-02-19 00:00)
    ("b1", "bot", ts(19, 0), "view"),  # the window's first instant: in
    ("b2", "bot", ts(21), "view"),
    ("b3", "bot", ts(21), "search"),  # same second as b2
    ("b4", "bot", ts(27), "cart"),
    ("b5", "bot", ts(28, 23), "view"),
    ("b6", "bot", ts(1, 0, month=3), "view"),  # at D: after the snapshot
    ("h1", "human", ts(25), "view"),
    ("h2", "human", ts(26), "cart"),
]
# (order_id, user_id, order_ts, is_refunded, refunded_at)
ORDERS = [
    ("o1", "human", ts(10), True, ts(12)),
    ("o2", "human", ts(20), True, dt.datetime(2026, 3, 1)),
    ("o3", "bot", dt.datetime(2026, 3, 1, 8), False, None),
]
# (user_id, registered_at, member_level: the latest, as silver.users keeps it)
USERS = [
    ("bot", dt.datetime(2025, 1, 1), "gold"),
    ("human", dt.datetime(2025, 6, 1), "platinum"),
    ("late", dt.datetime(2026, 3, 1), "basic"),
]
# (user_id, member_level held at D, as the features partition D has it)
LEVELS_AT_D = [("bot", "gold"), ("human", "silver")]


def _frame(spark: SparkSession, catalog: Catalog, table: str, rows: list[dict]):
    schema = declared_schema(catalog.spec(table))
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def write_silver(spark: SparkSession, catalog: Catalog) -> None:
    events = [
        {"event_id": e, "user_id": u, "event_ts": t, "event_month": t.date().replace(day=1), "event_type": k,
         "ingest_batch_id": "b"}
        for e, u, t, k in EVENTS
    ]  # fmt: skip
    orders = [
        {"order_id": o, "user_id": u, "order_ts": t, "order_month": t.date().replace(day=1), "amount": 10.0,
         "coupon_used": False, "discount_amount": 0.0, "is_refunded": r, "item_count": 1, "refunded_at": at,
         "updated_at": t, "ingest_batch_id": "b"}
        for o, u, t, r, at in ORDERS
    ]  # fmt: skip
    users = [{"user_id": u, "registered_at": t, "member_level": m, "ingest_batch_id": "b"} for u, t, m in USERS]
    catalog.append("silver.events", _frame(spark, catalog, "silver.events", events))
    catalog.append("silver.orders", _frame(spark, catalog, "silver.orders", orders))
    catalog.append("silver.users", _frame(spark, catalog, "silver.users", users))


def write_snapshot(spark: SparkSession, catalog: Catalog, day: dt.date) -> None:
    """Scores, features and segment members of ``day`` for bot and human."""
    scores = [{"user_id": u, "as_of_date": day, "grade": g, "value_score": v, "scored_at": ts(1, 6, month=day.month)}
              for u, g, v in (("bot", "D", 5.0), ("human", "A", 90.0))]  # fmt: skip
    catalog.overwrite_where(
        "scores.user_scores", _frame(spark, catalog, "scores.user_scores", scores), {"as_of_date": day}
    )
    features = spark.createDataFrame(
        [(u, day, 1.0 + i, level) for i, (u, level) in enumerate(LEVELS_AT_D)],
        "user_id string, as_of_date date, f1 double, member_level string",
    )
    catalog.overwrite_where("features.user_features", features, {"as_of_date": day})
    members = [{"as_of_date": day, "family": "value", "segment": "vip", "user_id": "human", "strategy": "keep",
                "channel": "email", "priority": 1, "is_control": False, "scored_at": ts(1, 6, month=day.month)}]  # fmt: skip
    table = "audiences.segment_members"
    catalog.overwrite_where(table, _frame(spark, catalog, table, members), {"as_of_date": day})
