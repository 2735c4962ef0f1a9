"""Interest family: per-category interest affinity, normalised as lift over the population; top-k interests.

Over all history before D, for the categories of ``preference.categories`` (rows with another or no
category do not count), per user and category:
- affinity = sum of weight x 0.5 ** (age_days / interests.half_life_days) over the user's events of the
  ``event_weights`` types (a page view adds ``dwell.per_minute`` x min(dwell_seconds, cap) / 60; a null
  dwell adds nothing) and orders kept by ``purchase_where`` (``purchase_weight`` each); age_days is the
  fractional days from the row's time to D;
- share = affinity / the user's affinity over all categories; population share = the category's
  affinity summed over every user of the snapshot / all users' affinity;
- lift = share / population share: 1 is the population's mix, so a category everyone browses does not
  top every user's list; shares and lifts are rounded to ``DECIMALS`` (9) decimals before any comparison
  (lift from the unrounded share);
- ``interest_1..k`` / ``interest_<i>_lift``: the categories with share >= ``min_share`` and lift >=
  ``min_lift``, ranked by lift desc, then share desc, then name; ``interest_count``: how many qualify.
Defaults: interest "none", lift 0, count 0.

The per-category affinities are conditional sums of the same single per-user aggregation as every
other measure of orders and events (the weight is a row column added before it): no extra scan. The
population normaliser is one global aggregate of those per-user sums over the persisted snapshot (one
number per category, :func:`population_totals`), applied as literals: nothing per user reaches the driver.
It is published with the snapshot (userscore.features.population), so the streaming rescoring of a few
users measures their lifts against the same population as the batch snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.columns import INTEREST_COUNT, ranked_interest_columns
from userscore.config.features import InterestConfig, MeasureSpec

NONE = "none"
WEIGHT = "_interest_weight"  # the row's decayed interest weight (events and orders)
_RANKED = "_interest_ranked"
_SECONDS_PER_DAY = 86400.0
# Shares and lifts are rounded before they are compared: sums of decayed weights in another order (a
# different partitioning) differ in the last bits, which must not reorder equal lifts or cross a threshold.
DECIMALS = 9


def _column(kind: str, i: int) -> str:
    return f"_interest_{kind}_{i}"


def _population(i: int) -> str:
    return f"_interest_population_{i}"


def _decay(time_column: str, as_of_ts: Column, half_life_days: float) -> Column:
    age_days = (F.unix_micros(as_of_ts) - F.unix_micros(F.col(time_column))) / F.lit(_SECONDS_PER_DAY * 1e6)
    return F.pow(F.lit(0.5), age_days / F.lit(float(half_life_days)))


def weighted_events(events: DataFrame, interests: InterestConfig, time_column: str, as_of_ts: Column) -> DataFrame:
    """Events with their decayed interest weight (null for event types without a weight)."""
    event_type = F.col("event_type")
    weight = F.lit(None).cast("double")
    for kind, w in reversed(list(interests.event_weights.items())):
        weight = F.when(event_type == kind, F.lit(float(w))).otherwise(weight)
    dwell = F.least(F.coalesce(F.col("dwell_seconds").cast("double"), F.lit(0.0)), F.lit(interests.dwell.cap_seconds))
    bonus = F.when(event_type == "page_view", F.lit(interests.dwell.per_minute) * dwell / 60.0).otherwise(0.0)
    return events.withColumn(WEIGHT, (weight + bonus) * _decay(time_column, as_of_ts, interests.half_life_days))


def weighted_orders(orders: DataFrame, interests: InterestConfig, time_column: str, as_of_ts: Column) -> DataFrame:
    """Orders with their decayed interest weight (``purchase_weight`` each)."""
    decay = _decay(time_column, as_of_ts, interests.half_life_days)
    return orders.withColumn(WEIGHT, F.lit(interests.purchase_weight) * decay)


def internal_measures(interests: InterestConfig, categories: Sequence[str]) -> dict[str, MeasureSpec]:
    """Per category: the decayed weight sum of its events and of its kept orders (summing ``WEIGHT``)."""
    measures: dict[str, MeasureSpec] = {}
    kinds = tuple(interests.event_weights)
    for i, category in enumerate(categories):
        in_category = {"category": (category,)}
        measures[_column("events", i)] = MeasureSpec(
            source="events", agg="sum", column=WEIGHT, where={"event_type": kinds, **in_category}
        )
        measures[_column("orders", i)] = MeasureSpec(
            source="orders", agg="sum", column=WEIGHT, where={**dict(interests.purchase_where), **in_category}
        )
    return measures


def affinity_columns(categories: Sequence[str]) -> list[str]:
    """The internal per-category affinity columns the snapshot carries from the aggregation to the lift."""
    return [_column("affinity", i) for i in range(len(categories))]


def with_affinities(df: DataFrame, interests: InterestConfig, categories: Sequence[str]) -> DataFrame:
    """Each category's affinity (events + kept orders) from the finished (non-null) internal measures."""
    affinity = {
        name: F.col(_column("events", i)) + F.col(_column("orders", i))
        for i, name in enumerate(affinity_columns(categories))
    }
    return df.withColumns(affinity).drop(*internal_measures(interests, categories))


def _share(part: Column, total: Column) -> Column:
    return F.when(total > 0, part / total).otherwise(F.lit(0.0))


def population_totals(df: DataFrame, categories: Sequence[str]) -> tuple[float, ...]:
    """Each category's affinity summed over every user of ``df`` (the population the lift is measured
    against): one global aggregation, one row to the driver."""
    row = df.agg(*[F.sum(c).alias(_population(i)) for i, c in enumerate(affinity_columns(categories))]).first()
    return tuple(float(row[_population(i)] or 0.0) for i in range(len(categories)))


def with_interests(
    df: DataFrame, interests: InterestConfig, categories: Sequence[str], population: Sequence[float]
) -> DataFrame:
    """Interest columns from the affinity columns (dropped), against ``population``
    (:func:`population_totals`, one number per category)."""
    affinity = [F.col(c) for c in affinity_columns(categories)]
    pop = [F.lit(float(total)) for total in population]
    user_total, pop_total = sum(affinity[1:], affinity[0]), sum(pop[1:], pop[0])
    entries = []
    for i, category in enumerate(categories):
        raw_share = _share(affinity[i], user_total)
        share, lift = F.round(raw_share, DECIMALS), F.round(_share(raw_share, _share(pop[i], pop_total)), DECIMALS)
        # Ascending sort on (-lift, -share, category): highest lift first, then share, then name.
        entries.append(
            F.struct(
                (F.lit(0.0) - lift).alias("neg_lift"),
                (F.lit(0.0) - share).alias("neg_share"),
                F.lit(category).alias("category"),
            )
        )
    qualifying = F.filter(
        F.array(*entries),
        lambda e: (e["neg_share"] < 0)
        & (-e["neg_share"] >= F.lit(interests.min_share))
        & (-e["neg_lift"] >= F.lit(interests.min_lift)),
    )
    df = df.withColumn(_RANKED, F.array_sort(qualifying))
    columns: dict[str, Column] = {}
    for i in range(1, interests.top_k + 1):
        name, lift = ranked_interest_columns(i)
        entry = F.try_element_at(F.col(_RANKED), F.lit(i))
        columns[name] = F.coalesce(entry["category"], F.lit(NONE))
        columns[lift] = F.coalesce(F.lit(0.0) - entry["neg_lift"], F.lit(0.0))
    columns[INTEREST_COUNT] = F.size(F.col(_RANKED)).cast("long")
    internal = [*affinity_columns(categories), _RANKED]
    return df.withColumns(columns).drop(*internal)
