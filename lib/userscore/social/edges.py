"""The social edges before a date, each with its weight and the user it shows influential."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.social import SocialConfig
from userscore.filters import mapped


def _per_type(config: SocialConfig, value: str) -> Column:
    return mapped(F.col("edge_type"), {name: getattr(t, value) for name, t in config.edge_types.items()})


def edges_before(edges: DataFrame, users: DataFrame, config: SocialConfig, as_of: dt.date) -> DataFrame:
    """Edges created before ``as_of`` between ``users`` (user_id): src_user_id, dst_user_id, edge_type,
    created_at, weight, and ``influencer`` / ``influenced``: the edge read as "influencer reaches influenced".

    Ingest admits only the edge types configured here (Config.reference_errors checks it), quarantines
    self-links and edges to unknown users; an edge to a user registered on or after D is not there yet.
    """
    known = users.select("user_id")
    at_d = (
        edges.where(F.col("created_at") < F.lit(as_of).cast("timestamp"))
        .join(known.withColumnRenamed("user_id", "src_user_id"), "src_user_id", "left_semi")
        .join(known.withColumnRenamed("user_id", "dst_user_id"), "dst_user_id", "left_semi")
    )
    from_dst = _per_type(config, "influencer") == "dst"
    return at_d.select(
        "src_user_id",
        "dst_user_id",
        "edge_type",
        "created_at",
        _per_type(config, "weight").alias("weight"),
        F.when(from_dst, F.col("dst_user_id")).otherwise(F.col("src_user_id")).alias("influencer"),
        F.when(from_dst, F.col("src_user_id")).otherwise(F.col("dst_user_id")).alias("influenced"),
    )
