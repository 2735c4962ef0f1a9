"""A tiny hand-made world shared by the accuracy and job tests.

20 users, repurchase probability p_i = 0.05 i (i = 1..20) at the reference snapshot. Users 5, 12, 16, 18,
19 and 20 buy within 30 days of JAN; user 17's order is refunded (not a purchase); user 1 buys after the
window. Decile cut points are 0.10, 0.20, ..., 0.90, so decile k (1 = highest) holds users 21-2k, 22-2k.
"""

from __future__ import annotations

import datetime as dt

JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
USERS = [f"u{i:02d}" for i in range(1, 21)]
P = {f"u{i:02d}": round(0.05 * i, 2) for i in range(1, 21)}
BUYERS = ("u05", "u12", "u16", "u18", "u19", "u20")
# (user, time, refunded)
ORDERS = [
    *((u, dt.datetime(2026, 1, 10, 12), False) for u in BUYERS),
    ("u17", dt.datetime(2026, 1, 12, 9), True),
    ("u01", dt.datetime(2026, 2, 28, 12), False),
]


def repurchase_tier(p: float) -> str:
    """conf/base/scoring.yaml: high above 0.60, mid from 0.25, else low."""
    return "high" if p > 0.6 else "mid" if p >= 0.25 else "low"


def order_rows(spark):
    rows = [
        (
            f"o{n}",
            u,
            t,
            t.date().replace(day=1),
            50.0,
            "books",
            "app",
            None,
            False,
            0.0,
            r,
            1,
            t if r else None,
            t,
            "b1",
        )
        for n, (u, t, r) in enumerate(ORDERS)
    ]
    schema = (
        "order_id string, user_id string, order_ts timestamp, order_month date, amount double, category string, "
        "channel string, payment_method string, coupon_used boolean, discount_amount double, is_refunded boolean, "
        "item_count int, refunded_at timestamp, updated_at timestamp, ingest_batch_id string"
    )
    return spark.createDataFrame(rows, schema)
