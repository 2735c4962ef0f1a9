"""Interest preference analysis of snapshot D: interest share by group, interest-to-purchase conversion.

The interests are the point-in-time features ``interest_1..k`` of features.user_features at D (lift over
the population, userscore.features.interests).

**Interest share** (``analysis.tables.share``), per breakdown group and category (the
``preference.categories`` vocabulary plus ``none``): ``users`` = users of the group with the category
among their interest_1..k (``none``: users without any interest), ``group_users`` = users of the group,
``share`` = users / group_users, ``population_share`` = the same over every user of the feature snapshot,
``lift`` = share / population_share (0 when population_share is 0). Groups: each value of each
``breakdowns.columns`` column of the scores of D (null -> ``analysis.missing_label``), breakdown = the
column name; with ``segment_families``, each segment of each family of audiences.segment_members at D, breakdown =
"segment:<family>" (users outside every segment of a family are in no group of it). Only users of the
feature snapshot count. Every group gets a row per category (users 0 included): a fixed grid.

**Interest-to-purchase conversion** (``analysis.tables.conversion``), per category c of the vocabulary,
with w = ``conversion.window_days``:
- a user's *first signal* in c is the earliest of their events in ``inputs.events`` with event_type in
  ``conversion.event_types`` and category c: the earliest within the look-back (``analysis.lookback_days``)
  and among the events kept by the per-user cap (a capped bot's latest events only), not necessarily the
  user's first signal ever;
- *interested users*: users whose first signal t is before D - w days (so each had a full w days to buy
  before D: no right-censoring);
- *converted users*: interested users with an order in category c kept by ``conversion.order_where``
  (refunds as of D) with t <= order_ts < t + w days;
- ``conversion_rate`` = converted / interested; ``median_days_to_purchase`` = the median (approximate,
  ``percentile_approx``: for an even count the lower middle value) over converted users of the days from
  t to their first such order.

All of it is aggregates of bounded width per user (conditional sums over the category vocabulary) and
one join of per-(user, category) first signals with orders; nothing per user reaches the driver.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.config import Config
from userscore.config.columns import ranked_interest_columns
from userscore.config.interests import InterestBreakdowns, InterestConversion
from userscore.features.interests import NONE
from userscore.filters import where_condition
from userscore.keys import AS_OF, USER_ID
from userscore.refunds import refunds_as_of

SEGMENT_BREAKDOWN = "segment:"
_INTERESTS = "_interests"
_SECONDS_PER_DAY = 86400.0


def _count(i: int) -> str:
    return f"_users_{i}"


def user_interests(features: DataFrame, top_k: int) -> DataFrame:
    """(user_id, interests): each user's interest categories, ["none"] without any."""
    ranked = F.array(*(F.col(ranked_interest_columns(i)[0]) for i in range(1, top_k + 1)))
    named = F.filter(ranked, lambda c: c.isNotNull() & (c != NONE))
    return features.select(USER_ID, F.when(F.size(named) > 0, named).otherwise(F.array(F.lit(NONE))).alias(_INTERESTS))


def memberships(
    scores: DataFrame, segments: DataFrame, breakdowns: InterestBreakdowns, missing_label: str
) -> DataFrame:
    """(user_id, breakdown, group_value): every group a user belongs to (a null score value: ``missing_label``)."""
    parts = [
        scores.select(
            USER_ID,
            F.lit(column).alias("breakdown"),
            F.coalesce(F.col(column).cast("string"), F.lit(missing_label)).alias("group_value"),
        )
        for column in breakdowns.columns
    ]
    if breakdowns.segment_families:
        parts.append(
            segments.select(
                USER_ID,
                F.concat(F.lit(SEGMENT_BREAKDOWN), F.col("family")).alias("breakdown"),
                F.col("segment").alias("group_value"),
            )
        )
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _counts(categories: list[str]) -> list[Column]:
    """Per category: users whose interests contain it (one conditional sum each: a fixed-width buffer)."""
    return [
        F.sum(F.array_contains(F.col(_INTERESTS), category).cast("long")).alias(_count(i))
        for i, category in enumerate(categories)
    ]


def interest_share(interests: DataFrame, groups: DataFrame, categories: list[str], as_of: dt.date) -> DataFrame:
    """Rows of the interest share table (see the module docstring) from :func:`user_interests` and
    :func:`memberships`."""
    population = interests.agg(F.count(F.lit(1)).alias("_population"), *_counts(categories))
    by_group = (
        groups.join(interests, USER_ID)
        .groupBy("breakdown", "group_value")
        .agg(F.count(F.lit(1)).alias("group_users"), *_counts(categories))
    )
    pop = population.select(
        F.col("_population"), *(F.col(_count(i)).alias(f"_pop{_count(i)}") for i in range(len(categories)))
    )
    stacked = F.explode(
        F.array(
            *(
                F.struct(
                    F.lit(category).alias("category"),
                    F.col(_count(i)).alias("users"),
                    F.col(f"_pop{_count(i)}").alias("population_users"),
                )
                for i, category in enumerate(categories)
            )
        )
    ).alias("cell")
    cells = (
        by_group.crossJoin(F.broadcast(pop))
        .select("breakdown", "group_value", "group_users", "_population", stacked)
        .select("breakdown", "group_value", "group_users", "_population", "cell.*")
    )
    share = F.col("users") / F.col("group_users")
    population_share = F.when(F.col("_population") > 0, F.col("population_users") / F.col("_population")).otherwise(0.0)
    lift = F.when(population_share > 0, share / population_share).otherwise(0.0)
    return cells.select(
        F.lit(as_of).alias(AS_OF),
        "breakdown",
        "group_value",
        "category",
        F.col("users").cast("long").alias("users"),
        F.col("group_users").cast("long").alias("group_users"),
        share.alias("share"),
        population_share.alias("population_share"),
        lift.alias("lift"),
    )


def interest_conversion(
    events: DataFrame, orders: DataFrame, conversion: InterestConversion, categories: list[str], as_of: dt.date
) -> DataFrame:
    """Rows of the conversion table (see the module docstring): one per category of the vocabulary."""
    d = F.lit(as_of).cast("timestamp")
    window = F.expr(f"INTERVAL {int(conversion.window_days)} DAYS")
    first = (
        events.where(
            F.col("event_type").isin(list(conversion.event_types))
            & F.col("category").isin(categories)
            & (F.col("event_ts") < d)
        )
        .groupBy(USER_ID, "category")
        .agg(F.min("event_ts").alias("first_ts"))
        .where(F.col("first_ts") < d - window)
    )
    bought = (
        orders.transform(refunds_as_of, d)
        .where(where_condition(conversion.order_where) & F.col("category").isin(categories) & (F.col("order_ts") < d))
        .select(F.col(USER_ID).alias("_buyer"), F.col("category").alias("_bought"), "order_ts")
    )
    matched = first.join(
        bought,
        (F.col(USER_ID) == F.col("_buyer"))
        & (F.col("category") == F.col("_bought"))
        & (F.col("order_ts") >= F.col("first_ts"))
        & (F.col("order_ts") < F.col("first_ts") + window),
        "left",
    )
    per_user = matched.groupBy(USER_ID, "category", "first_ts").agg(F.min("order_ts").alias("purchase_ts"))
    days = (F.unix_micros(F.col("purchase_ts")) - F.unix_micros(F.col("first_ts"))) / F.lit(_SECONDS_PER_DAY * 1e6)
    per_category = per_user.groupBy("category").agg(
        F.count(F.lit(1)).alias("interested_users"),
        F.count("purchase_ts").alias("converted_users"),
        F.percentile_approx(days, 0.5).alias("median_days_to_purchase"),
    )
    vocabulary = events.sparkSession.createDataFrame([(c,) for c in categories], "category string")
    return vocabulary.join(F.broadcast(per_category), "category", "left").select(
        F.lit(as_of).alias(AS_OF),
        "category",
        F.coalesce(F.col("interested_users"), F.lit(0)).cast("long").alias("interested_users"),
        F.coalesce(F.col("converted_users"), F.lit(0)).cast("long").alias("converted_users"),
        F.when(F.col("interested_users") > 0, F.col("converted_users") / F.col("interested_users"))
        .otherwise(0.0)
        .alias("conversion_rate"),
        F.col("median_days_to_purchase").cast("double").alias("median_days_to_purchase"),
        F.lit(int(conversion.window_days)).cast("int").alias("window_days"),
    )


def analyse(inputs: AnalysisInputs, config: Config) -> AnalysisOutput:
    """The interest share and conversion tables of D (pure DataFrame work: no reads, no writes)."""
    section = config.analysis.interests
    categories = list(config.features.preference.categories)
    interests = user_interests(inputs.features, config.features.interests.top_k)
    groups = memberships(inputs.scores, inputs.segments, section.breakdowns, config.analysis.missing_label)
    share = interest_share(interests, groups, [*categories, NONE], inputs.as_of)
    conversion = interest_conversion(inputs.events, inputs.orders, section.conversion, categories, inputs.as_of)
    breakdowns = [*section.breakdowns.columns, *(["segment families"] if section.breakdowns.segment_families else [])]
    summary = (
        f"interests: share of top-{config.features.interests.top_k} interests by {', '.join(breakdowns)}; "
        f"conversion within {section.conversion.window_days} days of the first signal, per category",
    )
    return AnalysisOutput({section.tables.share: share, section.tables.conversion: conversion}, summary)
