"""Tiny hand-made silver tables for the feature tests: rows as dicts, DataFrames with declared schemas."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession

from userscore.catalog import declared_schema
from userscore.config import Config
from userscore.features import Sources

T = dt.datetime
D = dt.date(2026, 3, 1)
D_TS = T(2026, 3, 1)


def user(user_id, registered_at, region="north", channel="organic", age_band="25-34", level="basic"):
    return dict(
        user_id=user_id,
        registered_at=registered_at,
        registration_channel=channel,
        gender="female",
        age_band=age_band,
        region=region,
        member_level=level,
        ingest_batch_id="b1",
    )


def order(
    order_id,
    user_id,
    ts,
    amount=10.0,
    category="books",
    channel="app",
    coupon=False,
    discount=0.0,
    refunded=False,
    refunded_at=None,
):
    """A silver order; a refunded one is refunded at its order time unless ``refunded_at`` says when."""
    refunded_at = refunded_at or (ts if refunded else None)
    return dict(
        order_id=order_id,
        user_id=user_id,
        order_ts=ts,
        order_month=ts.date().replace(day=1),
        amount=amount,
        category=category,
        channel=channel,
        coupon_used=coupon,
        discount_amount=discount,
        is_refunded=refunded,
        item_count=1,
        refunded_at=refunded_at,
        updated_at=refunded_at or ts,
        ingest_batch_id="b1",
    )


def event(event_id, user_id, ts, event_type="page_view", category=None, dwell=None):
    return dict(
        event_id=event_id,
        user_id=user_id,
        event_ts=ts,
        event_month=ts.date().replace(day=1),
        event_type=event_type,
        category=category,
        page="p",
        dwell_seconds=dwell,
        ingest_batch_id="b1",
    )


def change(change_id, user_id, ts, from_level, to_level):
    return dict(
        change_id=change_id,
        user_id=user_id,
        changed_at=ts,
        from_level=from_level,
        to_level=to_level,
        ingest_batch_id="b1",
    )


@dataclass
class Silver:
    """Rows of the four silver tables the feature engine reads."""

    users: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    level_changes: list[dict] = field(default_factory=list)

    TABLES = {
        "users": "silver.users",
        "orders": "silver.orders",
        "events": "silver.events",
        "level_changes": "silver.level_changes",
    }

    def plus(self, other: Silver) -> Silver:
        return Silver(*(getattr(self, k) + getattr(other, k) for k in self.TABLES))

    def frame(self, spark: SparkSession, config: Config, name: str) -> DataFrame:
        schema = declared_schema(config.tables[self.TABLES[name]])
        rows = [tuple(r.get(f.name) for f in schema.fields) for r in getattr(self, name)]
        return spark.createDataFrame(rows, schema)

    def sources(self, spark: SparkSession, config: Config) -> Sources:
        return Sources(**{name: self.frame(spark, config, name) for name in self.TABLES})


def scenario() -> Silver:
    """Nine users around D = 2026-03-01 covering every family's edge cases (see comments)."""
    users = [
        user("u1", T(2024, 1, 10, 10), level="platinum"),  # buyer + events; level history around D
        user("u2", T(2025, 6, 1), region=None, level="silver"),  # a refunded and a zero-amount order only
        user("u3", T(2025, 12, 15), age_band=None),  # events only
        user("u4", T(2026, 2, 28, 23)),  # nothing at all, registered the day before D
        user("u5", D_TS),  # registered exactly at D: excluded
        user("u6", T(2026, 4, 1)),  # registered after D: excluded
        user("u7", T(2023, 5, 5), level="gold"),  # an order exactly at D (excluded), a level change at D
        user("u8", T(2024, 7, 7), channel="social"),  # ties with u9 on frequency
        user("u9", T(2024, 8, 8), channel=None),
    ]
    orders = [
        order("o1", "u1", T(2026, 2, 28, 12), 100.0, "books", "app", coupon=True, discount=10.0),
        order("o2", "u1", T(2026, 2, 10, 8), 50.0, "toys", "web"),
        order("o3", "u1", T(2025, 12, 20), 30.0, "books", "app", discount=5.0),
        order("o4", "u1", T(2025, 6, 1), 200.0, "electronics", "store", coupon=True, refunded=True),
        order("o5", "u1", T(2024, 3, 1), 80.0, "books", "store"),
        order("o6", "u2", T(2026, 1, 15), 40.0, "beauty", "app", refunded=True),
        order("o7", "u2", T(2026, 2, 1), 0.0, "beauty", "web"),
        order("o8", "u7", D_TS, 999.0, "home", "app"),
        order("o9", "u7", T(2026, 2, 28, 23, 59, 59), 25.0, "home", "mini_program"),
        # Refunds recorded at D and after D: neither order is refunded in the snapshot for D.
        order("o10", "u8", T(2026, 1, 1), 10.0, "grocery", "app", refunded=True, refunded_at=D_TS),
        order("o11", "u8", T(2025, 11, 11), 10.0, None, "app"),
        order("o12", "u9", T(2025, 10, 10), 20.0, "sports", "web", refunded=True, refunded_at=T(2026, 3, 10)),
        order("o13", "u9", T(2025, 9, 9), 5.0, "sports", "store"),
    ]
    events = [
        event("e1", "u1", T(2026, 2, 27, 9), "login"),
        event("e2", "u1", T(2026, 2, 27, 9, 5), "page_view", "books", 30.0),
        event("e3", "u1", T(2026, 1, 20), "page_view", "toys", 10.0),
        event("e4", "u1", T(2026, 1, 20, 1), "favorite", "books"),
        event("e5", "u1", T(2025, 11, 1), "add_to_cart", "electronics", 4.0),
        event("e6", "u1", T(2026, 2, 20), "search"),
        event("e7", "u1", T(2026, 2, 15), "coupon_claim"),
        event("e8", "u1", T(2025, 12, 1), "campaign_join"),
        event("e9", "u1", T(2026, 2, 1), "service_contact"),
        event("e10", "u1", T(2026, 2, 25), "share", "books"),
        event("e11", "u1", T(2026, 2, 26), "comment", "toys"),
        event("e12", "u1", T(2026, 1, 30), "login"),
        event("e13", "u3", T(2026, 2, 20), "page_view", "beauty"),
        event("e14", "u3", T(2026, 2, 21), "click", "beauty", 12.5),
        event("e15", "u3", T(2026, 1, 10), "login"),
        event("e16", "u3", D_TS, "login"),
        event("e17", "u7", T(2026, 2, 28), "page_view", "home", 8.0),
        event("e18", "u7", T(2026, 2, 28, 1), "page_view", "toys", 2.0),
    ]
    changes = [
        change("c1", "u1", T(2025, 1, 1), "basic", "silver"),
        change("c2", "u1", T(2025, 7, 1), "silver", "gold"),
        change("c3", "u1", T(2026, 4, 1), "gold", "platinum"),
        change("c4", "u2", T(2026, 5, 1), "basic", "silver"),
        change("c5", "u7", D_TS, "silver", "gold"),
    ]
    return Silver(users, orders, events, changes)


def after_d() -> Silver:
    """Rows at or after D that must not change the snapshot for D."""
    return Silver(
        users=[user("u10", D_TS), user("u11", T(2026, 3, 2))],
        orders=[
            order("o20", "u1", D_TS, 500.0, "toys", "web"),
            order("o21", "u3", T(2026, 3, 1, 0, 0, 1), 70.0, "beauty", "app"),
            order("o22", "u4", T(2026, 6, 1), 10.0, "home", "store"),
            order("o23", "u10", T(2026, 3, 3), 10.0, "home", "store"),
        ],
        events=[
            event("e20", "u4", D_TS, "login"),
            event("e21", "u1", T(2026, 3, 15), "page_view", "electronics", 100.0),
            event("e22", "u11", T(2026, 3, 3), "login"),
        ],
        level_changes=[change("c20", "u1", T(2026, 3, 1), "gold", "silver")],
    )
