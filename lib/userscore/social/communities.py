"""Communities by label propagation: each user's community, its size and value; per community its density,
hub and most influential members."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.social import SocialConfig
from userscore.graph import Checkpoint, label_propagation


def density(size: Column, edges: Column) -> Column:
    """Member pairs joined by an edge / all member pairs, n (n - 1) / 2 in doubles: in ints it overflows
    beyond 46,341 members."""
    n = size.cast("double")
    return edges / (n * (n - 1) / 2)


@dataclass(frozen=True)
class CommunityFrames:
    """``per_user``: (user_id, community_id, community_size, community_value); ``communities``: one row per
    community of at least min_community_size users (community_id, size, value, density, edges);
    ``members``: their top members (community_id, rank, user_id, influence); rank 1 is the hub."""

    per_user: DataFrame
    communities: DataFrame
    members: DataFrame
    iterations: int
    converged: bool


def communities(
    users: DataFrame,
    edges: DataFrame,
    spend: DataFrame,
    influence: DataFrame,
    config: SocialConfig,
    checkpoint: Checkpoint | None = None,
) -> CommunityFrames:
    """Label propagation over the edges, undirected and weighted, every user a node (an isolated user is a
    community of one). ``spend``: (user_id, spend) before D; ``influence``: (user_id, influence,
    influence_key), members ranked by the key (then user id)."""
    result = label_propagation(
        edges.select(F.col("src_user_id").alias("src"), F.col("dst_user_id").alias("dst"), "weight"),
        nodes=users.select(F.col("user_id").alias("node")),
        weight="weight",
        max_iter=config.community_max_iter,
        checkpoint=checkpoint,
    )
    labels = result.labels.select(F.col("node").alias("user_id"), F.col("label").alias("community_id"))
    totals = (
        labels.join(spend, "user_id", "left")
        .groupBy("community_id")
        .agg(
            F.count(F.lit(1)).cast("int").alias("community_size"),
            F.coalesce(F.sum("spend"), F.lit(0.0)).alias("community_value"),
        )
    )
    per_user = labels.join(totals, "community_id").select(
        "user_id", "community_id", "community_size", "community_value"
    )
    pairs = edges.select(
        F.least("src_user_id", "dst_user_id").alias("a"), F.greatest("src_user_id", "dst_user_id").alias("b")
    ).distinct()
    inside = (
        pairs.join(labels.select(F.col("user_id").alias("a"), F.col("community_id")), "a")
        .join(labels.select(F.col("user_id").alias("b"), F.col("community_id").alias("b_community")), "b")
        .where(F.col("community_id") == F.col("b_community"))
        .groupBy("community_id")
        .agg(F.count(F.lit(1)).alias("edges"))
    )
    big = totals.where(F.col("community_size") >= config.min_community_size)
    table = big.join(inside, "community_id", "left").select(
        "community_id",
        F.col("community_size").alias("size"),
        F.col("community_value").alias("value"),
        density(F.col("community_size"), F.coalesce("edges", F.lit(0))).alias("density"),
        F.coalesce("edges", F.lit(0)).alias("edges"),
    )
    # A rank filter over a window partitioned by community: Spark (3.5+) limits each group to the top rows
    # before the shuffle (WindowGroupLimit), so a giant community does not send all its members to one task.
    order = Window.partitionBy("community_id").orderBy(F.desc("influence_key"), "user_id")
    members = (
        per_user.join(big.select("community_id"), "community_id")
        .join(influence, "user_id")
        .withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= config.top_members)
        .select("community_id", "rank", "user_id", "influence")
    )
    return CommunityFrames(per_user, table, members, result.iterations, result.converged)
