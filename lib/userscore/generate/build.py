"""Build every raw source and the truth table of a synthetic user base from ``spark.range``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.bad_records import (
    events_with_bad_records,
    orders_with_bad_lines,
    responses_with_bad_records,
    sends_with_bad_records,
    users_with_bad_records,
)
from userscore.generate.calibration import calibrate
from userscore.generate.campaigns import apply_campaigns, before_leaving, campaign_effects, raw_responses, raw_sends
from userscore.generate.consent import consents
from userscore.generate.events import generate_events, raw_events
from userscore.generate.identity import identity_links, person_id
from userscore.generate.levels import current_levels, level_changes
from userscore.generate.orders import generate_orders, late_refund_updates, raw_orders
from userscore.generate.social import expected_followers, social_edges
from userscore.generate.timeline import Timeline, as_timestamp, iso_utc
from userscore.generate.traits import Scales, user_frame
from userscore.generate.users import raw_users

# Raw sources in landing order, and their file format (see the raw landing contract).
SOURCE_FORMATS: dict[str, str] = {
    "users": "parquet",
    "orders": "json",
    "events": "parquet",
    "level_changes": "parquet",
    "social_edges": "parquet",
    "identity_links": "parquet",
    "consents": "parquet",
    "campaign_sends": "parquet",
    "campaign_responses": "parquet",
}


@dataclass(frozen=True)
class SyntheticUserBase:
    """Lazily computed DataFrames of one generated user base.

    ``raw``: per source, the landing contract's columns (orders: one JSON line ``value``) plus
    ``bad_kind`` (null for clean records), which is for tallies and not landed. ``late``: the same for the
    later batch ``<batch_id>-late`` (only orders have records there: the late refunds). ``traits``: the rows of
    truth.user_traits. ``campaign_effects``: the rows of truth.campaign_effects. ``scales``: the calibrated rate
    multipliers. ``shared``: intermediate results that several outputs derive from (the users' traits, the
    orders after the campaigns); ``intermediate``: what the orders after the campaigns derive from (the orders
    before them, the per-user state that carries every campaign's outcome). See ``cached``.
    """

    raw: Mapping[str, DataFrame]
    late: Mapping[str, DataFrame]
    traits: DataFrame
    campaign_effects: DataFrame
    scales: Scales
    timeline: Timeline
    shared: tuple[DataFrame, ...] = ()
    intermediate: tuple[DataFrame, ...] = ()

    @contextmanager
    def cached(self) -> Iterator[SyntheticUserBase]:
        """Keep the shared and intermediate results (memory, spilling to disk) while writing every output,
        so that orders are generated once and each campaign applied once rather than once per output that
        derives from them."""
        # In the order they derive from each other: the users, the orders before the campaigns, the campaigns'
        # state, the orders after them (each one's cached plan then reads the previous ones from the cache).
        kept = (*self.shared[:1], *self.intermediate, *self.shared[1:])
        for df in kept:
            df.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            yield self
        finally:
            for df in kept:
                df.unpersist()


def generate_user_base(spark: SparkSession, cfg: GenerateConfig) -> SyntheticUserBase:
    """Generate ``cfg.users`` users with two (``history_days``) years of behaviour ending at ``end_date``.

    Every value is a hash of (seed, record identity), so the same config gives the same rows whatever
    the partitioning; all work is distributed (one calibration job of fixed size runs eagerly).
    """
    timeline = Timeline.build(cfg.end_date, cfg.history_days, cfg.weekday_weights)
    scales = calibrate(spark, cfg, timeline)
    ids = spark.range(0, cfg.users, 1, _partitions(spark, cfg.users, cfg.users_per_partition))
    users = user_frame(ids, cfg, timeline, scales)
    generated = generate_orders(users, cfg, timeline)
    # Past campaigns add orders and make some users leave: everything below derives from the orders they leave,
    # and nothing a leaver does after leaving remains.
    campaigns = apply_campaigns(users, generated, cfg, timeline)
    orders, leaves = campaigns.orders, campaigns.leaves
    events = before_leaving(generate_events(users, orders, cfg, timeline), leaves)
    changes = level_changes(orders, cfg.member_levels, cfg.level_thresholds)
    edges = before_leaving(social_edges(users, cfg, timeline), leaves, idx="src_idx")
    links = before_leaving(identity_links(users, cfg, timeline), leaves)
    share, seed = cfg.bad_record_share, cfg.seed
    raw = {
        "users": users_with_bad_records(raw_users(users, current_levels(changes), cfg), seed, share, cfg.regions),
        "orders": orders_with_bad_lines(raw_orders(orders), seed, share),
        "events": events_with_bad_records(raw_events(events), seed, share),
        "level_changes": _clean(
            changes.select("change_id", "user_id", _iso("ts", "changed_at"), "from_level", "to_level")
        ),
        "social_edges": _clean(
            edges.select("edge_id", "src_user_id", "dst_user_id", "edge_type", _iso("ts", "created_at"))
        ),
        "identity_links": _clean(links.select("link_id", "user_id", "id_type", "id_value", _iso("ts", "linked_at"))),
        "consents": _clean(consents(users, cfg, timeline)),
        "campaign_sends": sends_with_bad_records(raw_sends(campaigns.sends, cfg), seed, share),
        "campaign_responses": responses_with_bad_records(
            raw_responses(campaigns.sends, orders, cfg, timeline), seed, share
        ),
    }
    late = {source: df.limit(0) for source, df in raw.items()}
    late["orders"] = _clean(late_refund_updates(orders).select(F.to_json(F.struct("*")).alias("value")))
    traits = _traits(_churn_at_leave(users, leaves), cfg, timeline)
    return SyntheticUserBase(
        raw=raw,
        late=late,
        traits=traits,
        campaign_effects=campaign_effects(campaigns.sends, orders, cfg.batch_id),
        scales=scales,
        timeline=timeline,
        shared=(users, orders),
        intermediate=(generated, *campaigns.persisted),
    )


def _churn_at_leave(users: DataFrame, leaves: DataFrame) -> DataFrame:
    """``users`` with ``churn`` moved to the leave time of the users a campaign made leave."""
    gone = leaves.select(F.col("idx").alias("_leaver"), F.col("leave_ts").alias("_leave_ts"))
    joined = users.join(F.broadcast(gone), F.col("idx") == F.col("_leaver"), "left")
    churn = F.least(F.col("churn"), F.coalesce(F.col("_leave_ts"), F.col("churn")))
    return joined.withColumn("churn", churn).drop("_leaver", "_leave_ts")


def late_batch_id(batch_id: str) -> str:
    """The batch that carries the later versions of ``batch_id``'s orders; sorts right after it."""
    return f"{batch_id}-late"


def _traits(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    return users.select(
        F.lit(cfg.batch_id).alias("batch_id"),
        F.lit(cfg.seed).cast("long").alias("seed"),
        "user_id",
        as_timestamp(F.col("reg")).alias("registered_at"),
        as_timestamp(F.col("churn")).alias("churn_at"),
        (F.col("churn") < timeline.end).alias("churned"),
        "buyer",
        "order_rate",
        "visit_rate",
        "spend_level",
        F.col("hazard").alias("churn_hazard"),
        F.col("decay").alias("tenure_decay"),
        F.col("pref_category").alias("preferred_category"),
        F.col("spread").alias("category_spread"),
        F.col("promo").alias("promo_sensitivity"),
        F.col("refund_p").alias("refund_propensity"),
        F.col("pref_channel").alias("preferred_channel"),
        F.col("pref_payment").alias("preferred_payment_method"),
        "sociability",
        expected_followers(cfg).alias("expected_followers"),
        person_id(cfg, F.col("idx")).alias("person_id"),
    )


def _partitions(spark: SparkSession, users: int, per_partition: int) -> int:
    """``users / users_per_partition``, but at least one partition per core the session offers."""
    try:
        cores = spark.sparkContext.defaultParallelism
    except Exception:  # Spark Connect sessions have no SparkContext
        cores = 1
    return max(math.ceil(users / per_partition), min(cores, users))


def _iso(column: str, alias: str) -> Column:
    return iso_utc(F.col(column)).alias(alias)


def _clean(df: DataFrame) -> DataFrame:
    return df.withColumn("bad_kind", F.lit(None).cast("string"))
