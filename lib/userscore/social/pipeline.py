"""One social run at D: read the inputs, measure, write social.user_social, communities, members and KOLs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.ingest import absent_tables
from userscore.errors import InputError
from userscore.graph import local_checkpoint
from userscore.refunds import refunded_as_of
from userscore.social.communities import communities
from userscore.social.edges import edges_before
from userscore.social.metrics import degrees, influence, invitee_conversions, reach_2hop, share_orders
from userscore.social.ranking import lower_share

AS_OF = "as_of_date"
COUNTS = ("in_degree", "out_degree", "followers", "reach_2hop", "invitees", "invitee_conversions", "share_orders")


@dataclass(frozen=True)
class SocialOutcome:
    as_of: dt.date
    users: int
    edges: int
    pagerank_iterations: int
    pagerank_converged: bool
    community_rounds: int
    communities_converged: bool
    communities: int
    largest_community: int
    kols: int


def check_inputs(catalog: Catalog, config: Config, first: dt.date) -> None:
    """InputError when an input table is missing (a source declared absent reads as empty) or no user was
    registered before ``first``; the runs of a date range go in date order, so the first run's check stands
    for every date before anything is written."""
    social = config.social
    absent = absent_tables(config.ingest)
    for table in (social.profiles_table, social.edges_table, social.orders_table):
        if table not in absent and not catalog.exists(table):
            raise InputError(f"input table {table} does not exist at {catalog.location(table)}: run ingest first")
    cutoff = F.lit(first).cast("timestamp")
    if catalog.read(social.profiles_table).where(F.col("registered_at") < cutoff).isEmpty():
        raise InputError(f"no user registered before {first} in {social.profiles_table}: no network to measure")


def run_social(catalog: Catalog, config: Config, as_of: dt.date) -> SocialOutcome:
    """Measure the social network at ``as_of`` and replace partition ``as_of`` of the social tables.

    InputError before any write when an input table is missing (a source declared absent reads as empty)
    or no user was registered before ``as_of``.
    """
    check_inputs(catalog, config, as_of)
    social = config.social
    absent = absent_tables(config.ingest)
    cutoff = F.lit(as_of).cast("timestamp")
    users = local_checkpoint(
        catalog.read(social.profiles_table).where(F.col("registered_at") < cutoff).select("user_id").distinct()
    )
    orders = (
        catalog.read_present(social.orders_table, absent)
        .where(F.col("order_ts") < cutoff)
        .select("order_id", "user_id", "order_ts", "amount", refunded_as_of(cutoff).alias("refunded"))
    )
    spend = orders.groupBy("user_id").agg(F.sum(F.when(~F.col("refunded"), F.col("amount"))).alias("spend"))
    first_orders = orders.groupBy("user_id").agg(F.min("order_ts").alias("first_order_ts"))
    edges = local_checkpoint(edges_before(catalog.read_present(social.edges_table, absent), users, social, as_of))

    ranks, pr = influence(users, edges, social)
    partitions = int(catalog.spark.conf.get("spark.sql.shuffle.partitions"))
    ranked = lower_share(ranks, "influence_key", "influence_percentile", partitions)
    groups = communities(users, edges, spend, ranked.select("user_id", "influence", "influence_key"), social)
    measures = [degrees(edges), reach_2hop(edges), invitee_conversions(edges, first_orders)]
    measures.append(share_orders(edges, orders, social.share_conversion_days))
    per_user = ranked.join(groups.per_user, "user_id")
    for measure in measures:
        per_user = per_user.join(measure, "user_id", "left")
    per_user = per_user.fillna(0, list(COUNTS))
    kol = (F.col("influence_percentile") >= 1 - social.kol.top_share) & (
        F.col("invitee_conversions") + F.col("share_orders") >= social.kol.min_conversions
    )
    hubs = groups.members.where(F.col("rank") == 1).select("user_id", F.lit(True).alias("community_hub"))
    per_user = local_checkpoint(
        per_user.join(hubs, "user_id", "left").select(
            "user_id",
            "influence",
            "influence_percentile",
            *(F.col(c).cast("long" if c == "reach_2hop" else "int").alias(c) for c in COUNTS),
            "community_id",
            "community_size",
            "community_value",
            kol.alias("kol"),
            F.coalesce("community_hub", F.lit(False)).alias("community_hub"),
        )
    )
    kols = per_user.where("kol").select(
        "user_id", "influence", "influence_percentile", "followers", "reach_2hop", "invitee_conversions",
        "share_orders", "community_id",
    )  # fmt: skip
    catalog.prepare(*social.outputs)
    stamp = F.lit(as_of).alias(AS_OF)
    written = catalog.overwrite_where(social.user_table, per_user.select(stamp, "*"), {AS_OF: as_of})
    tables = ((social.communities_table, groups.communities), (social.members_table, groups.members))
    for table, frame in (*tables, (social.kols_table, kols)):
        catalog.overwrite_where(table, frame.select(stamp, "*"), {AS_OF: as_of})
    on = F.col(AS_OF) == F.lit(as_of)
    summary = catalog.read(social.communities_table, on).agg(F.count(F.lit(1)), F.max("size")).first()
    return SocialOutcome(
        as_of=as_of,
        users=written.rows,
        edges=edges.count(),
        pagerank_iterations=pr.iterations,
        pagerank_converged=pr.converged,
        community_rounds=groups.iterations,
        communities_converged=groups.converged,
        communities=int(summary[0]),
        largest_community=int(summary[1] or 0),
        kols=catalog.read(social.kols_table, on).count(),
    )


def summary_lines(outcomes: Sequence[SocialOutcome], config: Config) -> list[str]:
    """Two lines per run (the network and what was found in it), then where the tables are."""
    social = config.social

    def settled(converged: bool) -> str:
        return "converged" if converged else "stopped at the limit"

    lines = []
    for outcome in outcomes:
        lines += [
            f"{outcome.as_of}: {outcome.users:,} users, {outcome.edges:,} edges before it; PageRank "
            f"{outcome.pagerank_iterations} iterations ({settled(outcome.pagerank_converged)}), label propagation "
            f"{outcome.community_rounds} rounds ({settled(outcome.communities_converged)})",
            f"{outcome.as_of}: {outcome.communities:,} communities of {social.min_community_size}+ users (the "
            f"largest {outcome.largest_community:,}); {outcome.kols:,} KOLs (top {social.kol.top_share:.0%} by "
            f"influence with {social.kol.min_conversions:g}+ conversions driven)",
        ]
    return [*lines, f"per user, community, member and KOL: {', '.join(social.outputs)}"]
