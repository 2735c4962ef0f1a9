"""A sparse, skewed social graph: follows go mostly to a few influencers, shares and invites to anyone.

A follow's target is drawn by popularity rank ``floor(N * u ** ALPHA)`` (a power law: low ranks get
most followers) and the rank is mapped to a user by a bijection ``(a * rank + b) mod N``, so the
influencers are spread over the user index. The target's registration time is recomputed from its
traits (a pure function of its index), so no join is needed: an edge exists only once both users are
registered and before its source churns. Follows and invites are relations: a user's repeated draw of the
same target and type keeps only its earliest edge (ties: the lower edge id), so the landed graph holds no
``duplicate_relation`` for ingest to reject; shares are events and may repeat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.generate import GenerateConfig
from userscore.generate.random import pick, poisson, uniform, with_draws
from userscore.generate.timeline import Timeline
from userscore.generate.traits import registration_seconds, user_id

ALPHA = 2.5  # popularity skew of follow targets
EDGE_TYPES, EDGE_WEIGHTS = ("follow", "share", "invite"), (0.7, 0.2, 0.1)
EDGE_COLUMNS = ["edge_id", "src_idx", "src_user_id", "dst_user_id", "edge_type", "ts"]


@dataclass(frozen=True)
class Popularity:
    """The bijection between popularity rank and user index: idx = (a * rank + b) mod n."""

    n: int
    a: int
    b: int

    @classmethod
    def build(cls, users: int, seed: int) -> Popularity:
        a = max(1, int(users * 0.6180339887)) | 1
        while math.gcd(a, users) != 1:
            a += 1
        return cls(users, a % users if users > 1 else 0, seed % users)

    def user_of_rank(self, rank: Column) -> Column:
        return F.pmod(rank * self.a + F.lit(self.b), F.lit(self.n))

    def rank_of_user(self, idx: Column) -> Column:
        inverse = pow(self.a, -1, self.n) if self.n > 1 else 0
        return F.pmod(F.pmod(idx - F.lit(self.b), F.lit(self.n)) * inverse, F.lit(self.n))

    def share_of_rank(self, rank: Column) -> Column:
        """Probability that one follow goes to the user of this rank."""
        n = float(self.n)
        return F.pow((rank + 1) / n, 1.0 / ALPHA) - F.pow(rank / n, 1.0 / ALPHA)


def expected_followers(cfg: GenerateConfig) -> Column:
    """Expected follow edges towards the user in scope (before edges dropped by timing or as repeats)."""
    popularity = Popularity.build(cfg.users, cfg.seed)
    follows = cfg.users * cfg.edges_per_user * EDGE_WEIGHTS[0]
    return popularity.share_of_rank(popularity.rank_of_user(F.col("idx"))) * follows


def social_edges(users: DataFrame, cfg: GenerateConfig, timeline: Timeline) -> DataFrame:
    """Internal edges (``ts`` = created) of a user frame; the user frame holds every user, the targets
    are recomputed from their index."""
    s, n = cfg.seed, cfg.users
    popularity = Popularity.build(n, s)
    idx = F.col("idx")
    count = poisson(F.col("sociability") * cfg.edges_per_user, s, "edges-n", idx)
    rows = users.select("idx", "user_id", "reg", "start", "stop", F.posexplode(F.array_repeat(F.lit(0), count)))
    k = F.col("pos")

    def u(salt: str) -> Column:
        return uniform(s, salt, idx, k)

    rows = with_draws(rows, _u_type=u("edge-type"))
    edge_type = pick(EDGE_TYPES, "_u_type", EDGE_WEIGHTS)
    rank = F.floor(F.pow(u("edge-rank"), ALPHA) * n).cast("long")
    anyone = F.floor(u("edge-anyone") * n).cast("long")
    dst = F.when(F.col("edge_type") == "follow", popularity.user_of_rank(rank)).otherwise(anyone)
    dst = F.when(dst == idx, F.pmod(dst + 1, F.lit(n))).otherwise(dst)
    dst_reg = registration_seconds(s, F.col("dst"), cfg, timeline)
    lo = F.greatest(F.col("start"), F.col("dst_reg"))
    created = F.when(F.col("edge_type") == "invite", F.col("dst_reg")).otherwise(
        lo + F.floor((F.col("stop") - lo) * u("edge-t"))
    )
    edges = (
        rows.withColumn("edge_type", edge_type)
        .withColumn("dst", dst)
        .withColumn("dst_reg", dst_reg)
        .withColumn("ts", created.cast("long"))
        # Both users registered, inside the window, before the source churns; an invite brings a new user.
        .where((F.col("dst") != idx) & (F.col("ts") >= lo) & (F.col("ts") < F.col("stop")))
        .where((F.col("edge_type") != "invite") | (F.col("dst_reg") > F.col("reg")))
        .select(
            F.format_string("s-%s-%04d", F.col("user_id").substr(3, 100), k).alias("edge_id"),
            idx.alias("src_idx"),
            F.col("user_id").alias("src_user_id"),
            user_id(F.col("dst"), n).alias("dst_user_id"),
            "edge_type",
            "ts",
        )
    )
    # The window holds one source's edges to one target: no hub in one task.
    first = Window.partitionBy("src_idx", "dst_user_id", "edge_type").orderBy("ts", "edge_id")
    edges = edges.withColumn("_nth", F.row_number().over(first))
    return edges.where((F.col("edge_type") == "share") | (F.col("_nth") == 1)).drop("_nth")
