"""Per-user social measures at D: influence, degrees, 2-hop reach, invitations and shares that converted."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.social import SocialConfig
from userscore.graph import Checkpoint, pagerank

# Influence is compared (percentiles, hubs) on this many decimals of influence x users (1 on average): the
# last bits of a sum depend on the order partial sums arrive in, and must not decide a rank.
RANK_DECIMALS = 9


def influence(users: DataFrame, edges: DataFrame, config: SocialConfig, checkpoint: Checkpoint | None = None):
    """(user_id, influence, influence_key): weighted PageRank over edges from the influenced to the
    influencer, so rank flows to the users others listen to (users without edges keep the teleport share),
    and the key it is ranked by (RANK_DECIMALS). Returns (frame, PageRank)."""
    settings = config.pagerank
    result = pagerank(
        edges.select(F.col("influenced").alias("src"), F.col("influencer").alias("dst"), "weight"),
        nodes=users.select(F.col("user_id").alias("node")),
        damping=settings.damping,
        tol=settings.tolerance,
        max_iter=settings.max_iter,
        checkpoint=checkpoint,
    )
    users_count = users.count()
    ranks = result.ranks.select(
        F.col("node").alias("user_id"),
        F.col("rank").alias("influence"),
        F.round(F.col("rank") * users_count, RANK_DECIMALS).alias("influence_key"),
    )
    return ranks, result


def degrees(edges: DataFrame) -> DataFrame:
    """(user_id, in_degree, out_degree, followers, invitees) of the users with edges."""
    out = edges.groupBy(F.col("src_user_id").alias("user_id")).agg(
        F.count(F.lit(1)).cast("int").alias("out_degree"),
        F.sum((F.col("edge_type") == "invite").cast("int")).alias("invitees"),
    )
    into = edges.groupBy(F.col("dst_user_id").alias("user_id")).agg(
        F.count(F.lit(1)).cast("int").alias("in_degree"),
        F.sum((F.col("edge_type") == "follow").cast("int")).alias("followers"),
    )
    return out.join(into, "user_id", "full")


def reach_2hop(edges: DataFrame) -> DataFrame:
    """(user_id, reach_2hop): distinct users an influencer reaches in one or two hops along influence edges,
    estimated with HyperLogLog sketches (the user itself counts when a path comes back to it).

    One sketch of direct reach per user, then per edge u -> v the union of v's sketch into u's: no list of
    2-hop pairs is ever built, and the unions are aggregations (partial per task, so a celebrity's many
    edges are merged where they are, not in one task).
    """
    pairs = edges.select(F.col("influencer").alias("u"), F.col("influenced").alias("v")).distinct()
    direct = pairs.groupBy("u").agg(F.hll_sketch_agg("v").alias("sketch"))
    second = pairs.join(direct.withColumnRenamed("u", "v").withColumnRenamed("sketch", "v_sketch"), "v").select(
        "u", F.col("v_sketch").alias("sketch")
    )
    merged = direct.unionByName(second).groupBy("u").agg(F.hll_union_agg("sketch").alias("sketch"))
    return merged.select(F.col("u").alias("user_id"), F.hll_sketch_estimate("sketch").cast("long").alias("reach_2hop"))


def invitee_conversions(edges: DataFrame, first_orders: DataFrame) -> DataFrame:
    """(user_id, invitee_conversions): the user's invitees whose first order came after the invitation.
    ``first_orders``: (user_id, first_order_ts) of the orders before D."""
    invites = edges.where(F.col("edge_type") == "invite")
    converted = invites.join(first_orders.withColumnRenamed("user_id", "dst_user_id"), "dst_user_id").where(
        F.col("first_order_ts") > F.col("created_at")
    )
    return converted.groupBy(F.col("src_user_id").alias("user_id")).agg(
        F.countDistinct("dst_user_id").cast("int").alias("invitee_conversions")
    )


def share_orders(edges: DataFrame, orders: DataFrame, days: int) -> DataFrame:
    """(user_id, share_orders): distinct orders a share's recipient placed within ``days`` after it.
    ``orders``: (order_id, user_id, order_ts) before D."""
    shares = edges.where(F.col("edge_type") == "share").select("src_user_id", "dst_user_id", "created_at")
    followed = shares.join(orders.withColumnRenamed("user_id", "dst_user_id"), "dst_user_id").where(
        (F.col("order_ts") > F.col("created_at"))
        & (F.col("order_ts") <= F.col("created_at") + F.make_dt_interval(F.lit(days)))
    )
    return followed.groupBy(F.col("src_user_id").alias("user_id")).agg(
        F.countDistinct("order_id").cast("int").alias("share_orders")
    )
