"""The identifier edges of each user id at a date: identity links and profile identifiers, deduplicated."""

from __future__ import annotations

import datetime as dt
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.identity import IdentityConfig

EDGE_COLUMNS = ["user_id", "id_type", "id_value", "linked_at"]


def users_before(profiles: DataFrame, as_of: dt.date) -> DataFrame:
    """The user ids registered before ``as_of`` (column ``user_id``)."""
    return profiles.where(F.col("registered_at") < F.lit(as_of).cast("timestamp")).select("user_id").distinct()


def identifier_edges(links: DataFrame, profiles: DataFrame, config: IdentityConfig, as_of: dt.date) -> DataFrame:
    """One row per (user id, id type, value) known before ``as_of``, with its earliest link time.

    A link is known at D when linked before D (a link without a time counts from the user's registration);
    profile identifiers are linked at registration. Links of users not registered before D are left out.
    """
    cutoff = F.lit(as_of).cast("timestamp")
    registered = profiles.where(F.col("registered_at") < cutoff).select(
        "user_id", "registered_at", *config.profile_identifiers
    )
    linked = (
        links.join(registered.select("user_id", "registered_at"), "user_id")
        .select("user_id", "id_type", "id_value", F.coalesce("linked_at", "registered_at").alias("linked_at"))
        .where(F.col("linked_at") < cutoff)
    )
    from_profiles = [
        registered.select(
            "user_id",
            F.lit(id_type).alias("id_type"),
            F.col(column).alias("id_value"),
            F.col("registered_at").alias("linked_at"),
        )
        for column, id_type in config.profile_identifiers.items()
    ]
    # Ingest admits only the id types that have limits (Config.reference_errors checks it).
    return (
        reduce(DataFrame.unionByName, [linked, *from_profiles])
        .where(F.col("id_value").isNotNull() & (F.length(F.trim("id_value")) > 0))
        .groupBy("user_id", "id_type", "id_value")
        .agg(F.min("linked_at").alias("linked_at"))
    )
