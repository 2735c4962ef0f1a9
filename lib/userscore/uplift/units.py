"""The unit of analysis: one user of one campaign, with its arm, its first send, its cost, whether a control
user was contacted, the outcome in its attribution window as known at D, and the breakdown dimensions.

A user with sends in both arms, or a control user with a contact response (delivered, opened, ...), was
contacted although assigned to control: counted as treated and as a contaminated control user.
Amounts are whole cents (long; squares as decimal(38,0)) so every sum is exact and independent of the
order Spark adds rows in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.campaigns import DECILE_SUFFIX, CampaignsConfig

TREATMENT, CONTROL = "treatment", "control"
UNIT_COLUMNS = (
    "campaign_id", "user_id", "campaign_date", "arm", "contaminated", "sent_at", "family", "segment", "channel",
    "cost", "responded", "converted", "revenue_cents",
)  # fmt: skip


def campaign_sends(sends: DataFrame, as_of: dt.date, lookback_days: int) -> DataFrame:
    """The sends before D of the campaigns whose first send is in [D - lookback_days, D), with
    ``campaign_date`` (the day of the campaign's first send)."""
    before = sends.where(F.col("sent_at") < F.lit(as_of).cast("timestamp"))
    first = before.groupBy("campaign_id").agg(F.to_date(F.min("sent_at")).alias("campaign_date"))
    start = as_of - dt.timedelta(days=lookback_days)
    first = first.where(F.col("campaign_date") >= F.lit(start))
    return before.join(F.broadcast(first), "campaign_id")


def units(
    sends: DataFrame,
    responses: DataFrame,
    cfg: CampaignsConfig,
    windows: Mapping[str, int],
    as_of: dt.date,
) -> DataFrame:
    """One row per (campaign, user) of ``sends`` (from :func:`campaign_sends`), without the outcome yet;
    ``windows``: campaign id -> attribution window in days (campaigns without a type are left out)."""
    first_send = F.struct("sent_at", "send_id", "family", "segment", "channel")
    per_user = sends.groupBy("campaign_id", "user_id", "campaign_date").agg(
        F.max(F.col("arm") == TREATMENT).alias("_treated"),
        F.max(F.col("arm") == CONTROL).alias("_assigned_control"),
        F.min(first_send).alias("_first"),
        F.sum(F.when(F.col("arm") == TREATMENT, F.col("contact_cost")).otherwise(0.0)).alias("cost"),
    )
    end = F.lit(as_of).cast("timestamp")
    known = responses.where(F.col("responded_at") < end)
    responded = known.groupBy("campaign_id", "user_id").agg(
        F.max(F.col("response_type").isin(*cfg.response_types)).alias("_responded"),
        F.max(F.col("response_type").isin(*cfg.contact_responses)).alias("_contacted"),
    )
    window = sends.sparkSession.createDataFrame(list(windows.items()), "campaign_id string, window_days int")
    joined = per_user.join(responded, ["campaign_id", "user_id"], "left").join(F.broadcast(window), "campaign_id")
    contacted = F.coalesce(F.col("_contacted"), F.lit(False))
    contaminated = F.col("_assigned_control") & (F.col("_treated") | contacted)
    treated = F.col("_treated") | contaminated
    return joined.select(
        "campaign_id",
        "user_id",
        "campaign_date",
        F.when(treated, F.lit(TREATMENT)).otherwise(F.lit(CONTROL)).alias("arm"),
        contaminated.alias("contaminated"),
        F.col("_first.sent_at").alias("sent_at"),
        F.col("_first.family").alias("family"),
        F.col("_first.segment").alias("segment"),
        F.col("_first.channel").alias("channel"),
        "cost",
        (treated & F.coalesce(F.col("_responded"), F.lit(False))).alias("responded"),
        "window_days",
    )


def with_outcomes(
    units_df: DataFrame,
    orders: DataFrame,
    events: DataFrame | None,
    conversion_events: Mapping[str, tuple[str, ...]],
    as_of: dt.date,
    since: dt.date | None,
) -> DataFrame:
    """``converted`` and ``revenue_cents`` of each unit: non-refunded orders (a refund counts when
    refunded_at < D) and conversion events of its campaign's type in (sent_at, sent_at + window], before D.
    ``since``: the earliest campaign date (orders before it are not read)."""
    end = F.lit(as_of).cast("timestamp")
    window_end = F.least(F.expr("timestampadd(DAY, window_days, sent_at)"), end)
    keys = units_df.select("campaign_id", "user_id", "sent_at", "window_days")
    refunded = F.col("is_refunded") & (F.coalesce(F.col("refunded_at"), F.col("order_ts")) < end)
    valid = orders.where(~refunded & (F.col("order_ts") < end))
    if since is not None:
        valid = valid.where(F.col("order_ts") >= F.lit(since).cast("timestamp"))
    in_window = (F.col("order_ts") > F.col("sent_at")) & (F.col("order_ts") <= window_end)
    bought = (
        keys.join(valid.select("user_id", "order_ts", "amount"), "user_id")
        .where(in_window)
        .groupBy("campaign_id", "user_id")
        .agg(F.sum(F.round(F.col("amount") * 100).cast("long")).alias("revenue_cents"))
    )
    outcome = units_df.join(bought, ["campaign_id", "user_id"], "left")
    converted = F.col("revenue_cents").isNotNull()
    wanted = {c: types for c, types in conversion_events.items() if types}
    if events is not None and wanted:
        pairs = [(c, t) for c, types in wanted.items() for t in types]
        lookup = events.sparkSession.createDataFrame(pairs, "campaign_id string, event_type string")
        acted = (
            keys.join(F.broadcast(lookup), "campaign_id")
            .join(
                events.where(F.col("event_ts") < end).select("user_id", "event_ts", "event_type"),
                ["user_id", "event_type"],
            )
            .where((F.col("event_ts") > F.col("sent_at")) & (F.col("event_ts") <= window_end))
            .select("campaign_id", "user_id", F.lit(True).alias("_acted"))
            .distinct()
        )
        outcome = outcome.join(acted, ["campaign_id", "user_id"], "left")
        converted = converted | F.col("_acted").isNotNull()
    return outcome.select(
        *[c for c in UNIT_COLUMNS if c not in ("converted", "revenue_cents")],
        converted.alias("converted"),
        F.coalesce(F.col("revenue_cents"), F.lit(0).cast("long")).alias("revenue_cents"),
    )


def with_scores(units_df: DataFrame, scores: DataFrame | None, columns: tuple[str, ...]) -> DataFrame:
    """The score ``columns`` of each unit's user at its campaign's score date (the latest scored date at or
    before the campaign date; null when none), and ``<column>_decile`` for each numeric one: 1 for the
    highest tenth of the campaign's scored users (cut at approximate deciles), 10 for the lowest."""
    if not columns:
        return units_df
    if scores is None:
        missing = [F.lit(None).cast("string").alias(c) for c in columns]
        return units_df.select("*", *missing, *[F.lit(None).cast("int").alias(c + DECILE_SUFFIX) for c in columns])
    dates = scores.select("as_of_date").distinct()
    pick = (
        units_df.select("campaign_id", "campaign_date")
        .distinct()
        .join(F.broadcast(dates), F.col("as_of_date") <= F.col("campaign_date"))
        .groupBy("campaign_id")
        .agg(F.max("as_of_date").alias("as_of_date"))
    )
    scored = scores.select("user_id", "as_of_date", *columns)
    out = units_df.join(F.broadcast(pick), "campaign_id", "left").join(scored, ["user_id", "as_of_date"], "left")
    out = out.drop("as_of_date")
    for column in numeric_columns(scores, columns):
        out = _with_decile(out, column)
    return out


def numeric_columns(df: DataFrame, columns: tuple[str, ...]) -> list[str]:
    """The numeric ones of ``columns`` (those with deciles and rankings)."""
    types = dict(df.dtypes)
    return [c for c in columns if types[c] in ("double", "float", "int", "bigint")]


def _with_decile(df: DataFrame, column: str) -> DataFrame:
    probabilities = [i / 10 for i in range(1, 10)]
    cuts = df.groupBy("campaign_id").agg(F.percentile_approx(column, probabilities, 10_000).alias(f"_cuts_{column}"))
    above = F.aggregate(
        F.col(f"_cuts_{column}"), F.lit(0), lambda acc, cut: acc + F.when(F.col(column) > cut, 1).otherwise(0)
    )
    decile = F.when(F.col(column).isNotNull(), F.lit(10) - above)
    return (
        df.join(F.broadcast(cuts), "campaign_id", "left")
        .withColumn(column + DECILE_SUFFIX, decile)
        .drop(f"_cuts_{column}")
    )


def cell_column(dimensions: tuple[str, ...]) -> Column:
    """'dim=value, dim=value' ('unknown' for a missing value), or 'all' for no dimension."""
    if not dimensions:
        return F.lit("all")
    parts = [F.concat(F.lit(f"{d}="), F.coalesce(F.col(d).cast("string"), F.lit("unknown"))) for d in dimensions]
    return F.concat_ws(", ", *parts)
