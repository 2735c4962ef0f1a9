"""The interest family worked out in plain Python over the same rows (independent of the Spark code).

Semantics as documented in userscore.features.interests; the parameters default to the tests' own
feature definitions (tests/features/features.yaml).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

CATEGORIES = ("apparel", "beauty", "books", "electronics", "grocery", "home", "sports", "toys")
EVENT_WEIGHTS = {"search": 1.0, "page_view": 1.0, "favorite": 3.0, "add_to_cart": 4.0, "comment": 2.0, "share": 3.0}


def affinities(
    orders: Iterable[dict],
    events: Iterable[dict],
    d: dt.date,
    *,
    half_life: float = 30.0,
    event_weights: Mapping[str, float] = EVENT_WEIGHTS,
    per_minute: float = 0.5,
    cap_seconds: float = 600.0,
    purchase_weight: float = 6.0,
    categories: tuple[str, ...] = CATEGORIES,
) -> dict[str, dict[str, float]]:
    """user -> category -> decayed weighted affinity, from rows before ``d`` (orders: kept as of d)."""
    d_ts = dt.datetime(d.year, d.month, d.day)
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def decay(ts: dt.datetime) -> float:
        return 0.5 ** ((d_ts - ts).total_seconds() / 86400 / half_life)

    for e in events:
        if e["event_ts"] >= d_ts or e["category"] not in categories or e["event_type"] not in event_weights:
            continue
        weight = event_weights[e["event_type"]]
        if e["event_type"] == "page_view":
            weight += per_minute * min(e["dwell_seconds"] or 0.0, cap_seconds) / 60
        out[e["user_id"]][e["category"]] += weight * decay(e["event_ts"])
    for o in orders:
        refunded = o["is_refunded"] and o["refunded_at"] < d_ts
        if o["order_ts"] >= d_ts or refunded or o["category"] not in categories:
            continue
        out[o["user_id"]][o["category"]] += purchase_weight * decay(o["order_ts"])
    return out


def interests(
    affinity: Mapping[str, Mapping[str, float]],
    users: Iterable[str],
    *,
    top_k: int = 3,
    min_share: float = 0.1,
    min_lift: float = 1.0,
) -> dict[str, dict]:
    """user -> interest columns, with the population = ``users`` (every user of the snapshot)."""
    users = list(users)
    population: dict[str, float] = defaultdict(float)
    for uid in users:
        for category, a in affinity.get(uid, {}).items():
            population[category] += a
    population_total = sum(population.values())
    out = {}
    for uid in users:
        mine = {c: a for c, a in affinity.get(uid, {}).items() if a > 0}
        total = sum(mine.values())
        scored = []
        for category, a in mine.items():
            # Rounded to 9 decimals before any comparison (the lift from the unrounded share).
            share = a / total
            lift = round(share / (population[category] / population_total), 9)
            share = round(share, 9)
            if share >= min_share and lift >= min_lift:
                scored.append((-lift, -share, category))
        scored.sort()
        row = {}
        for i in range(top_k):
            row[f"interest_{i + 1}"] = scored[i][2] if i < len(scored) else "none"
            row[f"interest_{i + 1}_lift"] = -scored[i][0] if i < len(scored) else 0.0
        row["interest_count"] = len(scored)
        out[uid] = row
    return out
