"""The feature definitions worked out in plain Python over the same rows (independent of the Spark code).

Semantics follow the tests' own feature definitions (tests/features/features.yaml, not conf/base) and
the documented defaults; windows are a parameter so a test can add one. Used as the expected side of whole-DataFrame comparisons.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict

from tests.features import customer_base_reference as customer_base
from tests.features.interest_oracle import affinities, interests
from tests.features.silver import Silver

KEPT_VISITS = ("page_view", "click", "favorite", "add_to_cart")
CHANNELS = ("app", "web", "store", "mini_program")
HALF_LIFE = 90.0
TREND = 30
# (R, FM) -> segment, written out cell by cell (rows R = 5..1, columns FM = 1..5).
GRID = {
    5: ["New customers", "Potential loyalist", "Loyal", "Champions", "Champions"],
    4: ["Promising", "Potential loyalist", "Loyal", "Champions", "Champions"],
    3: ["Promising", "Need attention", "Need attention", "Loyal", "Loyal"],
    2: ["About to sleep", "About to sleep", "At risk", "At risk", "Can't lose them"],
    1: ["Lost", "Hibernating", "At risk", "Can't lose them", "Can't lose them"],
}


def days_ago(ts: dt.datetime, d: dt.date) -> int:
    return (d - ts.date()).days


def in_window(ts: dt.datetime, d: dt.date, n: int) -> bool:
    return 1 <= days_ago(ts, d) <= n


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def nearest_rank_quantiles(values: list[float], bins: int) -> list[float]:
    ordered = sorted(values)
    return [ordered[max(math.ceil(i / bins * len(ordered)), 1) - 1] for i in range(1, bins)]


def scores_for(values: dict[str, float], bins: int, higher_is_better: bool) -> tuple[dict[str, int], list, list]:
    """Scores per user of the population ``values``; also the effective bounds and bin scores."""
    if not values:
        return {}, [], [(bins + 1) // 2]
    top = max(values.values())
    bounds = sorted({q for q in nearest_rank_quantiles(list(values.values()), bins) if q < top})
    k = len(bounds)
    bin_scores = [1 + math.floor(i * (bins - 1) / k + 0.5) for i in range(k + 1)] if k else [(bins + 1) // 2]
    if not higher_is_better:
        bin_scores = bin_scores[::-1]
    out = {}
    for user_id, v in values.items():
        b = next((i for i, bound in enumerate(bounds) if v <= bound), k)
        out[user_id] = bin_scores[b]
    return out, bounds, bin_scores


def level_as_of(user: dict, changes: list[dict], d: dt.date) -> str:
    d_ts = dt.datetime(d.year, d.month, d.day)
    mine = sorted((c for c in changes if c["user_id"] == user["user_id"]), key=lambda c: c["changed_at"])
    before = [c for c in mine if c["changed_at"] < d_ts]
    after = [c for c in mine if c["changed_at"] >= d_ts]
    if before:
        return before[-1]["to_level"]
    if after:
        return after[0]["from_level"] or "unknown"
    return user["member_level"] or "unknown"


def reference(
    silver: Silver,
    d: dt.date,
    windows=(30, 90, 365),
    top_k: int = 3,
    horizons: tuple[int, ...] = customer_base.HORIZONS,
) -> list[dict]:
    """One dict per user registered before ``d``, every feature column of tests/features/features.yaml.

    The scenarios here do not identify BG/NBD (its fit fails): the customer-base model columns are null
    (``horizons``: their expected-purchase horizons in days); tests/features/test_customer_base.py fits one.
    """
    d_ts = dt.datetime(d.year, d.month, d.day)
    orders = defaultdict(list)
    for o in silver.orders:
        if o["order_ts"] < d_ts:
            orders[o["user_id"]].append(o)
    events = defaultdict(list)
    for e in silver.events:
        if e["event_ts"] < d_ts:
            events[e["user_id"]].append(e)
    rows = {}
    for u in silver.users:
        if u["registered_at"] >= d_ts:
            continue
        uid = u["user_id"]
        tenure = (d - u["registered_at"].date()).days
        mine, acts = orders[uid], events[uid]
        # Refunded as of d: refund recorded before d (written out here, independently of userscore.refunds).
        refunded = [o for o in mine if o["is_refunded"] and o["refunded_at"] < d_ts]
        kept = [o for o in mine if not any(o is r for r in refunded)]
        row = {
            "user_id": uid,
            "as_of_date": d,
            "member_level": level_as_of(u, silver.level_changes, d),
            "region": u["region"] or "unknown",
            "registration_channel": u["registration_channel"] or "unknown",
            "age_band": u["age_band"] or "unknown",
            "tenure_days": tenure,
            "recency_days": min((days_ago(o["order_ts"], d) for o in kept), default=tenure + 1),
        }
        for n in windows:
            row[f"frequency_{n}d"] = sum(1 for o in kept if in_window(o["order_ts"], d, n))
        for n in windows:
            row[f"monetary_{n}d"] = sum(o["amount"] for o in kept if in_window(o["order_ts"], d, n))
        weights = [0.5 ** ((d_ts - o["order_ts"]).total_seconds() / 86400 / HALF_LIFE) for o in kept]
        row["decayed_frequency"] = sum(weights)
        row["decayed_monetary"] = sum(w * o["amount"] for w, o in zip(weights, kept, strict=True))
        # transaction
        times = sorted(o["order_ts"] for o in kept)
        row |= {
            "orders_placed": len(mine),
            "order_count": len(kept),
            "total_order_value": sum(o["amount"] for o in kept),
            "refunded_orders": len(refunded),
            "coupon_orders": sum(1 for o in kept if o["coupon_used"]),
            "days_between_orders_mean": (
                (times[-1] - times[0]).total_seconds() / 86400 / (len(times) - 1) if len(times) > 1 else 0.0
            ),
            "days_since_first_order": days_ago(times[0], d) if times else 0,
        }
        row["avg_order_value"] = ratio(row["total_order_value"], row["order_count"])
        row["refund_rate"] = ratio(row["refunded_orders"], row["orders_placed"])
        row["coupon_order_share"] = ratio(row["coupon_orders"], row["order_count"])
        row["category_count"] = len({o["category"] for o in kept if o["category"] is not None})
        # behaviour
        kinds = {
            "logins": "login",
            "page_views": "page_view",
            "favorites": "favorite",
            "carts": "add_to_cart",
            "shares": "share",
            "comments": "comment",
            "searches": "search",
        }

        def count(kind, low, high, acts=acts):
            return sum(1 for e in acts if e["event_type"] == kind and low <= days_ago(e["event_ts"], d) <= high)

        def active(low, high, acts=acts):
            return len({e["event_ts"].date() for e in acts if low <= days_ago(e["event_ts"], d) <= high})

        for n in windows:
            row[f"logins_{n}d"] = count("login", 1, n)
        for n in windows:
            row[f"active_days_{n}d"] = active(1, n)
        for n in windows:
            row[f"page_views_{n}d"] = count("page_view", 1, n)
        for n in windows:
            row[f"dwell_seconds_{n}d"] = sum(e["dwell_seconds"] or 0.0 for e in acts if in_window(e["event_ts"], d, n))
        for name in ("favorites", "carts", "shares", "comments", "searches"):
            for n in windows:
                row[f"{name}_{n}d"] = count(kinds[name], 1, n)
        row["days_since_last_activity"] = min((days_ago(e["event_ts"], d) for e in acts), default=tenure + 1)
        row["logins_trend"] = (count("login", 1, TREND) + 1) / (count("login", TREND + 1, 2 * TREND) + 1)
        row["active_days_trend"] = (active(1, TREND) + 1) / (active(TREND + 1, 2 * TREND) + 1)
        row["page_views_trend"] = (count("page_view", 1, TREND) + 1) / (count("page_view", TREND + 1, 2 * TREND) + 1)
        # preference
        spend, visits = Counter(), Counter()
        for o in kept:
            if o["category"] is not None:
                spend[o["category"]] += o["amount"]
        for e in acts:
            if e["category"] is not None and e["event_type"] in KEPT_VISITS:
                visits[e["category"]] += 1
        cats = set(spend) | set(visits)
        total_spend, total_visits = sum(spend.values()), sum(visits.values())
        affinity = {c: 0.6 * ratio(spend[c], total_spend) + 0.4 * ratio(visits[c], total_visits) for c in cats}
        ranked = sorted(cats, key=lambda c: (-affinity[c], c))
        top = ranked[0] if ranked else None
        row["top_category"] = top or "none"
        row["top_category_spend_share"] = ratio(spend[top], total_spend) if top else 0.0
        row["top_category_visit_share"] = ratio(visits[top], total_visits) if top else 0.0
        for i in range(top_k):
            row[f"category_{i + 1}"] = ranked[i] if i < len(ranked) else "none"
            row[f"category_{i + 1}_affinity"] = affinity[ranked[i]] if i < len(ranked) else 0.0
        discount, paid = sum(o["discount_amount"] for o in kept), sum(o["amount"] for o in kept)
        row["promotion_sensitivity"] = ratio(discount, paid + discount)
        by_channel = Counter(o["channel"] for o in kept if o["channel"] in CHANNELS)
        best = sorted(by_channel.items(), key=lambda kv: (-kv[1], kv[0]))
        row["preferred_channel"] = best[0][0] if best else "none"
        row["preferred_channel_share"] = ratio(best[0][1], sum(by_channel.values())) if best else 0.0
        row["preference_score"] = (
            0.4 * row["top_category_spend_share"]
            + 0.3 * row["top_category_visit_share"]
            + 0.3 * row["preferred_channel_share"]
        )
        # interaction
        for name, kind in (("coupons_claimed", "coupon_claim"),):
            for n in windows:
                row[f"{name}_{n}d"] = count(kind, 1, n)
        for n in windows:
            row[f"coupons_used_{n}d"] = sum(1 for o in mine if o["coupon_used"] and in_window(o["order_ts"], d, n))
        for name, kind in (("campaigns_joined", "campaign_join"), ("service_contacts", "service_contact")):
            for n in windows:
                row[f"{name}_{n}d"] = count(kind, 1, n)
        row["_buyer"] = bool(kept)
        rows[uid] = row
    # RFM scores over the snapshot's populations.
    r, _, _ = scores_for({u: x["recency_days"] for u, x in rows.items() if x["_buyer"]}, 5, False)
    f, _, _ = scores_for({u: x["frequency_365d"] for u, x in rows.items() if x["frequency_365d"] > 0}, 5, True)
    m, _, _ = scores_for({u: x["monetary_365d"] for u, x in rows.items() if x["frequency_365d"] > 0}, 5, True)
    for uid, row in rows.items():
        row["r_score"], row["f_score"], row["m_score"] = r.get(uid, 1), f.get(uid, 1), m.get(uid, 1)
        row["fm_score"] = math.floor((row["f_score"] + row["m_score"]) / 2 + 0.5)
        row["rfm_score"] = 0.4 * row["r_score"] + 0.3 * row["f_score"] + 0.3 * row["m_score"]
        row["rfm_segment"] = GRID[row["r_score"]][row["fm_score"] - 1]
        del row["_buyer"]
    # Interests: lift against the snapshot's whole population (tests/features/interest_oracle.py).
    for uid, columns in interests(affinities(silver.orders, silver.events, d), rows).items():
        rows[uid] |= columns
    stats = customer_base.summary(silver, d)
    for uid, columns in customer_base.columns(stats, list(rows), None, horizons).items():
        rows[uid] |= columns
    return list(rows.values())
