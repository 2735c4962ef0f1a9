"""Preference family: top categories by affinity, promotion sensitivity, preferred channel, a score.

Over all history before D, from orders kept by ``preference.order_where`` (default: not refunded) and
events of ``visit_event_types``, for the configured ``categories`` and ``channels`` (rows with another or
no category/channel do not count for preferences):
- per category: the user's spend, kept orders and visits; its affinity = spend_weight * its share of the
  user's spend + visits_weight * its share of the user's visits;
- ``category_1..k`` / ``category_<i>_affinity``: the top-k categories by affinity among those the user
  ordered or visited (ties by name); ``top_category`` = category_1, with ``top_category_spend_share``
  and ``top_category_visit_share``; ``category_count`` (placed after a generic family's columns by
  ``preference.placement``): categories with at least one kept order;
- ``promotion_sensitivity`` = discounts / (amount paid + discounts) over kept orders;
- ``preferred_channel``: the channel with most kept orders (ties by name) and its share of those orders;
- ``preference_score``: the weighted mean of the configured shares.
Defaults: category/channel "none"; shares, affinities and counts 0.

The per-category and per-channel figures are conditional aggregates (one per vocabulary value) of the
same single per-user aggregation as every other measure of the source: no second scan, no second
shuffle, fixed-width aggregation buffers. Ranking is array functions over the few categories of a row.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.columns import (
    CATEGORY_COUNT,
    PREFERENCE_SCORE,
    PREFERRED_CHANNEL,
    PREFERRED_CHANNEL_SHARE,
    PROMOTION_SENSITIVITY,
    TOP_CATEGORY,
    TOP_CATEGORY_SPEND_SHARE,
    TOP_CATEGORY_VISIT_SHARE,
    ranked_category_columns,
)
from userscore.config.features import PREFERENCE_SIGNALS, MeasureSpec, PreferenceConfig

NONE = "none"
_DISCOUNT, _PAID = "_pref_discount", "_pref_paid"
_RANKED = "_pref_ranked"


def _column(kind: str, i: int) -> str:
    return f"_pref_{kind}_{i}"


def internal_measures(preference: PreferenceConfig) -> dict[str, MeasureSpec]:
    """The per-user measures preferences are derived from (added to the orders and events aggregations)."""
    kept = dict(preference.order_where)
    visits = {"event_type": tuple(preference.visit_event_types)}
    measures = {
        _DISCOUNT: MeasureSpec(source="orders", agg="sum", column="discount_amount", where=kept),
        _PAID: MeasureSpec(source="orders", agg="sum", column="amount", where=kept),
    }
    for i, category in enumerate(preference.categories):
        in_category = {"category": (category,)}
        measures[_column("spend", i)] = MeasureSpec(
            source="orders", agg="sum", column="amount", where={**kept, **in_category}
        )
        measures[_column("orders", i)] = MeasureSpec(source="orders", agg="count", where={**kept, **in_category})
        measures[_column("visits", i)] = MeasureSpec(source="events", agg="count", where={**visits, **in_category})
    for i, channel in enumerate(preference.channels):
        measures[_column("channel", i)] = MeasureSpec(
            source="orders", agg="count", where={**kept, "channel": (channel,)}
        )
    return measures


def _share(part: Column, total: Column) -> Column:
    return F.when(total > 0, part / total).otherwise(F.lit(0.0))


def _total(columns: list[Column]) -> Column:
    return sum(columns[1:], columns[0])


def _ranked_categories(preference: PreferenceConfig) -> tuple[Column, Column, Column]:
    """(the user's categories sorted by affinity desc then name, spend total, visit total)."""
    n = len(preference.categories)
    spend = [F.col(_column("spend", i)) for i in range(n)]
    orders = [F.col(_column("orders", i)) for i in range(n)]
    visits = [F.col(_column("visits", i)).cast("double") for i in range(n)]
    spend_total, visit_total = _total(spend), _total(visits)
    w = preference.affinity_weights
    entries = [
        F.struct(
            # Ascending sort on (-affinity, category): highest affinity first, ties by category name.
            (
                F.lit(0.0)
                - (F.lit(w.spend) * _share(spend[i], spend_total) + F.lit(w.visits) * _share(visits[i], visit_total))
            ).alias("neg_affinity"),
            F.lit(category).alias("category"),
            spend[i].alias("spend"),
            visits[i].alias("visits"),
            (orders[i] > 0).alias("ordered"),
        )
        for i, category in enumerate(preference.categories)
    ]
    present = F.filter(F.array(*entries), lambda e: e["ordered"] | (e["visits"] > 0))
    return F.array_sort(present), spend_total, visit_total


def _preferred_channel(preference: PreferenceConfig) -> tuple[Column, Column]:
    """(channel with most kept orders, ties by name, or "none"; its share of those orders)."""
    by_name = sorted(range(len(preference.channels)), key=lambda i: preference.channels[i])
    counts = {i: F.col(_column("channel", i)) for i in by_name}
    # greatest (count, -name rank): the most orders, then the alphabetically first channel.
    entries = [
        F.struct(counts[i].alias("n"), F.lit(-rank).alias("rank"), F.lit(preference.channels[i]).alias("channel"))
        for rank, i in enumerate(by_name)
    ]
    best = F.greatest(*entries) if len(entries) > 1 else entries[0]
    total = _total(list(counts.values())).cast("double")
    channel = F.when(best["n"] > 0, best["channel"]).otherwise(F.lit(NONE))
    return channel, _share(best["n"].cast("double"), total)


def finish_preference(df: DataFrame, preference: PreferenceConfig) -> DataFrame:
    """Preference columns and category_count from the finished (non-null) internal measures."""
    ranked, spend_total, visit_total = _ranked_categories(preference)
    df = df.withColumn(_RANKED, ranked)

    def rank(i: int) -> Column:
        return F.try_element_at(F.col(_RANKED), F.lit(i))

    top, none = rank(1), F.lit(NONE)
    discount, paid = F.col(_DISCOUNT), F.col(_PAID)
    channel, channel_share = _preferred_channel(preference)
    ordered = [F.when(F.col(_column("orders", i)) > 0, 1).otherwise(0) for i in range(len(preference.categories))]
    columns: dict[str, Column] = {
        CATEGORY_COUNT: _total(ordered).cast("long"),
        TOP_CATEGORY: F.coalesce(top["category"], none),
        TOP_CATEGORY_SPEND_SHARE: _share(F.coalesce(top["spend"], F.lit(0.0)), spend_total),
        TOP_CATEGORY_VISIT_SHARE: _share(F.coalesce(top["visits"], F.lit(0.0)), visit_total),
    }
    for i in range(1, preference.top_k + 1):
        category, affinity = ranked_category_columns(i)
        columns[category] = F.coalesce(rank(i)["category"], none)
        columns[affinity] = F.coalesce(F.lit(0.0) - rank(i)["neg_affinity"], F.lit(0.0))
    columns[PROMOTION_SENSITIVITY] = _share(discount, paid + discount)
    columns[PREFERRED_CHANNEL] = channel
    columns[PREFERRED_CHANNEL_SHARE] = channel_share
    df = df.withColumns(columns).drop(_RANKED, *internal_measures(preference))
    weights = {k: v for k, v in preference.score_weights.items() if k in PREFERENCE_SIGNALS}
    score = sum((F.col(k) * v for k, v in weights.items()), F.lit(0.0)) / sum(weights.values())
    return df.withColumn(PREFERENCE_SCORE, score)
