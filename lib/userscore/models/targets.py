"""Labels from silver tables, point in time: for snapshot D the population is decided by rows strictly
before D, and the outcome by rows in (D, D + horizon]. Rows exactly at D are in neither, as the
feature snapshot for D also reads only rows before D. Refunds too (userscore.refunds): an order counts
as refunded for the population only when its refund was recorded before D, and for the outcome only
when recorded by D + horizon, the end of the label window; a later refund does not change a label.

Every rule is a ``DataFrame -> DataFrame`` step over the snapshot keys (user_id, as_of_date); all
snapshots are labelled in one pass: each silver row is matched, on the executors, to the (few)
snapshot windows that contain it and exploded into one row per window, then aggregated per
(user_id, as_of_date). Nothing per user reaches the driver; the driver only holds the snapshot dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.models import LabelRule, PopulationRule, TargetConfig
from userscore.filters import where_condition
from userscore.keys import AS_OF, KEY_COLUMNS
from userscore.persons import PersonMaps, by_person
from userscore.refunds import REFUNDED, REFUNDED_AT, refunded_as_of

LABEL = "label"
Silver = Mapping[str, DataFrame]

# Per input: (time column, month partition column) - pruning predicates need both.
_TIME = {
    "orders": ("order_ts", "order_month"),
    "events": ("event_ts", "event_month"),
    "level_changes": ("changed_at", None),
}


def _midnight(day: dt.date) -> Column:
    # Cast in the session time zone (UTC): D means D 00:00:00 UTC.
    return F.lit(day).cast("timestamp")


def window_hits(
    df: DataFrame,
    source: str,
    dates: Sequence[dt.date],
    start_days: int | None,
    end_days: int,
    closed: Literal["right", "left"],
) -> DataFrame:
    """One row per (row of ``df``, snapshot D whose window contains the row's time), with ``as_of_date``.

    The window is (D + start_days, D + end_days] when ``closed`` is right, [D + start_days, D + end_days)
    when left; ``start_days`` None means unbounded in the past.
    """
    ts_name, month_name = _TIME[source]
    ts = F.col(ts_name)

    def inside(day: dt.date) -> Column:
        hi = _midnight(day + dt.timedelta(days=end_days))
        upper = ts <= hi if closed == "right" else ts < hi
        if start_days is None:
            return upper
        lo = _midnight(day + dt.timedelta(days=start_days))
        return upper & (ts > lo if closed == "right" else ts >= lo)

    # A coarse range first: Delta skips files (and month partitions) outside every window.
    overall = ts <= _midnight(max(dates) + dt.timedelta(days=end_days))
    if month_name:
        overall &= F.col(month_name) <= F.lit(max(dates) + dt.timedelta(days=end_days))
    if start_days is not None:
        first = min(dates) + dt.timedelta(days=start_days)
        overall &= ts >= _midnight(first)
        if month_name:
            overall &= F.col(month_name) >= F.lit(first.replace(day=1))
    hits = F.filter(F.array(*[F.when(inside(d), F.lit(d)) for d in dates]), lambda d: d.isNotNull())
    return df.where(overall).withColumn("as_of_date", F.explode(hits))


def _kept_orders(hits: DataFrame, include_refunded: bool, end_days: int, closed: Literal["right", "left"]) -> DataFrame:
    """Order ``hits`` (with as_of_date) without the orders refunded as of their window's end, D + end_days
    (a refund exactly at the end counts when the window is closed on the right, like an order would)."""
    if include_refunded:
        return hits
    end = F.date_add(F.col("as_of_date"), end_days).cast("timestamp")
    return hits.where(~refunded_as_of(end, inclusive=closed == "right"))


def _events(silver: Silver, event_types: Sequence[str] | None) -> DataFrame:
    events = silver["events"]
    return events if event_types is None else events.where(F.col("event_type").isin(list(event_types)))


def _active_keys(
    silver: Silver,
    dates: Sequence[dt.date],
    start_days: int,
    end_days: int,
    closed: Literal["right", "left"],
    event_types: Sequence[str] | None,
    include_refunded: bool,
) -> DataFrame:
    """Distinct (user_id, as_of_date) with an order or an event in the window."""
    orders = window_hits(silver["orders"], "orders", dates, start_days, end_days, closed).transform(
        _kept_orders, include_refunded, end_days, closed
    )
    events = window_hits(_events(silver, event_types), "events", dates, start_days, end_days, closed)
    return orders.select(*KEY_COLUMNS).unionByName(events.select(*KEY_COLUMNS)).distinct()


def _level_rank(levels: Sequence[str], column: str) -> Column:
    """1-based rank of a member level in ``levels`` (lowest first); 0 for an unknown level."""
    return F.array_position(F.array(*[F.lit(level) for level in levels]), F.col(column)).cast("int")


def _snapshot_index(ts: Column, dates: Sequence[dt.date]) -> Column:
    """How many snapshots start at or before ``ts``: a row with index i is before snapshots i, i+1, ..."""
    return sum(((ts >= _midnight(d)).cast("int") for d in dates), F.lit(0))


def _vip_state(
    keys: DataFrame, silver: Silver, dates: Sequence[dt.date], rule: PopulationRule | LabelRule
) -> DataFrame:
    """``keys`` with _spend_before (spend before D, 0 when none) and _rank_at (rank of the level at D).

    Spend before D leaves out orders refunded before D (unless ``include_refunded``); the VIP label adds
    the window's spend to this figure as of D (a refund in the window of an order placed before D does
    not take it back: the label uses no more than it knows at D + h).

    The level at D is the ``to_level`` of the latest change before D; without one, the lowest level.
    History before D is unbounded, so instead of matching each row to every later snapshot, rows are
    summed per (user, snapshot index) and accumulated over a window per user: the rows that reach the
    shuffle are bounded by users x snapshots, whatever the number of orders.
    """
    dates = sorted(dates)
    last = _midnight(dates[-1])
    orders = silver["orders"].where((F.col("order_ts") < last) & (F.col("order_month") <= F.lit(dates[-1])))
    amounts = orders.select("user_id", _snapshot_index(F.col("order_ts"), dates).alias("_i"), "amount")
    if not rule.include_refunded:
        # An order is refunded as of D_j when refunded_at < D_j (userscore.refunds), i.e. for every snapshot
        # from the index of refunded_at on: its amount is taken back there.
        refunds = orders.where(F.col(REFUNDED) & F.col(REFUNDED_AT).isNotNull()).select(
            "user_id",
            _snapshot_index(F.greatest(F.col(REFUNDED_AT), F.col("order_ts")), dates).alias("_i"),
            (-F.col("amount")).alias("amount"),
        )
        amounts = amounts.unionByName(refunds)
    spend = amounts.groupBy("user_id", "_i").agg(
        F.sum("amount").alias("_spend"), F.lit(None).cast("struct<changed_at:timestamp,_rank:int>").alias("_last")
    )
    changes = silver["level_changes"].where(F.col("changed_at") < last)
    level = changes.groupBy("user_id", _snapshot_index(F.col("changed_at"), dates).alias("_i")).agg(
        F.lit(None).cast("double").alias("_spend"),
        F.max(F.struct("changed_at", _level_rank(rule.levels, "to_level").alias("_rank"))).alias("_last"),
    )
    index = F.lit(None).cast("int")
    for i, d in enumerate(dates):
        index = F.when(F.col("as_of_date") == F.lit(d), F.lit(i)).otherwise(index)
    anchors = keys.select(
        "user_id",
        "as_of_date",
        index.alias("_i"),
        F.lit(None).cast("double").alias("_spend"),
        F.lit(None).cast("struct<changed_at:timestamp,_rank:int>").alias("_last"),
        F.lit(1).alias("_anchor"),
    )
    history = (
        spend.unionByName(level).withColumn("as_of_date", F.lit(None).cast("date")).withColumn("_anchor", F.lit(0))
    )
    # Rows with index i precede the anchor of snapshot i (t < D_i); anchors sort after rows of their index.
    upto = Window.partitionBy("user_id").orderBy("_i", "_anchor").rowsBetween(Window.unboundedPreceding, 0)
    return (
        anchors.unionByName(history)
        .select(
            "user_id",
            "as_of_date",
            "_anchor",
            F.coalesce(F.sum("_spend").over(upto), F.lit(0.0)).alias("_spend_before"),
            F.coalesce(F.max("_last").over(upto)["_rank"], F.lit(1)).alias("_rank_at"),
        )
        .where(F.col("_anchor") == 1)
        .drop("_anchor")
    )


# -- populations: keys -> eligible keys ------------------------------------------------------------------
def _orders_of(silver: Silver, rule: PopulationRule | LabelRule) -> Silver:
    """``silver`` with only the orders the rule's ``where`` keeps (filtered before any window or refund
    logic, so a filtered rule is exactly the unfiltered rule over fewer orders)."""
    if not rule.where:
        return silver
    return {**silver, "orders": silver["orders"].where(where_condition(rule.where))}


def eligible(keys: DataFrame, rule: PopulationRule, silver: Silver, dates: Sequence[dt.date]) -> DataFrame:
    """The rows of ``keys`` (user_id, as_of_date) eligible for a label under ``rule``."""
    if rule.kind == "all":
        return keys
    silver = _orders_of(silver, rule)
    if rule.kind == "active_within":
        active = _active_keys(silver, dates, -rule.lookback_days, 0, "left", rule.event_types, rule.include_refunded)
        return keys.join(active, list(KEY_COLUMNS), "left_semi")
    if rule.kind == "below_vip":
        state = _vip_state(keys.select(*KEY_COLUMNS), silver, dates, rule)
        below = state.where((F.col("_rank_at") < len(rule.levels)) & (F.col("_spend_before") < rule.spend_threshold))
        return keys.join(below.select(*KEY_COLUMNS), list(KEY_COLUMNS), "left_semi")
    raise ValueError(f"unknown population kind {rule.kind!r}")


# -- labels: eligible keys -> keys + label -----------------------------------------------------------------
def with_label(
    keys: DataFrame, rule: LabelRule, horizon_days: int, silver: Silver, dates: Sequence[dt.date]
) -> DataFrame:
    """``keys`` with an int ``label`` (1 = the outcome happened) from rows in (D, D + horizon_days]."""
    silver = _orders_of(silver, rule)
    if rule.kind == "any_order_within":
        orders = window_hits(silver["orders"], "orders", dates, 0, horizon_days, "right").transform(
            _kept_orders, rule.include_refunded, horizon_days, "right"
        )
        return _flag(keys, orders.select(*KEY_COLUMNS).distinct(), positive_if_present=True)
    if rule.kind == "no_activity_within":
        active = _active_keys(silver, dates, 0, horizon_days, "right", rule.event_types, rule.include_refunded)
        return _flag(keys, active, positive_if_present=False)
    if rule.kind == "level_rise_or_spend_crosses":
        spend = (
            window_hits(silver["orders"], "orders", dates, 0, horizon_days, "right")
            .transform(_kept_orders, rule.include_refunded, horizon_days, "right")
            .groupBy(*KEY_COLUMNS)
            .agg(F.sum("amount").alias("_spend_window"))
        )
        # A rise is a change in the window to a higher level than its from_level (or, when from_level
        # is missing, than the level held at D).
        changes = window_hits(silver["level_changes"], "level_changes", dates, 0, horizon_days, "right")
        to_rank, from_rank = _level_rank(rule.levels, "to_level"), _level_rank(rule.levels, "from_level")
        rises = changes.groupBy(*KEY_COLUMNS).agg(
            F.max(F.when(F.col("from_level").isNotNull(), to_rank > from_rank)).alias("_rose"),
            F.max(F.when(F.col("from_level").isNull(), to_rank)).alias("_rank_max"),
        )
        state = (
            _vip_state(keys.select(*KEY_COLUMNS), silver, dates, rule)
            .join(spend, list(KEY_COLUMNS), "left")
            .join(rises, list(KEY_COLUMNS), "left")
        )
        crossed = F.col("_spend_before") + F.coalesce(F.col("_spend_window"), F.lit(0.0)) >= rule.spend_threshold
        rose = F.coalesce(F.col("_rose"), F.lit(False)) | (F.coalesce(F.col("_rank_max"), F.lit(0)) > F.col("_rank_at"))
        flags = state.select(*KEY_COLUMNS, (crossed | rose).cast("int").alias(LABEL))
        return keys.join(flags, list(KEY_COLUMNS), "left")
    raise ValueError(f"unknown label kind {rule.kind!r}")


def _flag(keys: DataFrame, hits: DataFrame, positive_if_present: bool) -> DataFrame:
    present = F.col("_hit").isNotNull()
    label = present if positive_if_present else ~present
    return (
        keys.join(hits.withColumn("_hit", F.lit(1)), list(KEY_COLUMNS), "left")
        .withColumn(LABEL, label.cast("int"))
        .drop("_hit")
    )


def labels(
    keys: DataFrame, target: TargetConfig, silver: Silver, dates: Sequence[dt.date], persons: PersonMaps | None = None
) -> DataFrame:
    """(user_id, as_of_date, label) for the eligible rows of ``keys``, whose as_of_date is in ``dates``.

    With ``persons`` (identity.resolve) the keys are persons: the keys at D are labelled from silver keyed by
    the person map in force at D, the one their features were keyed by (one pass per identity run)."""
    if not dates:
        raise ValueError("labels need at least one snapshot date")
    if persons is not None:
        parts = [
            labels(
                keys.where(F.col(AS_OF).isin(of_run)),
                target,
                {name: by_person(rows, persons.at(of_run[0])) for name, rows in silver.items()},
                of_run,
            )
            for of_run in persons.dates_by_run(dates).values()
        ]
        return reduce(DataFrame.unionByName, parts)
    return (
        keys.select(*KEY_COLUMNS)
        .transform(eligible, target.population, silver, dates)
        .transform(with_label, target.label, target.horizon_days, silver, dates)
        .select(*KEY_COLUMNS, LABEL)
    )
