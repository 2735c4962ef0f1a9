"""Merge protection, first step: an identifier value linked to too many user ids links nobody."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.identity import IdentityConfig
from userscore.filters import mapped

DROPPED_COLUMNS = ["user_id", "id_type", "id_value", "reason", "detail"]


def per_type(config: IdentityConfig, attribute: str) -> Column:
    """The limit ``attribute`` of each row's ``id_type``."""
    return mapped(F.col("id_type"), {name: getattr(limits, attribute) for name, limits in config.id_types.items()})


def split_shared(edges: DataFrame, config: IdentityConfig) -> tuple[DataFrame, DataFrame]:
    """(edges whose value is not shared, dropped edges with reason ``shared_value``).

    ``edges`` has one row per (user_id, id_type, id_value). A value is shared when more user ids than its
    type's ``max_users_per_value`` hold it: a store tablet or a placeholder e-mail would otherwise join
    strangers into one person.
    """
    holders = edges.groupBy("id_type", "id_value").agg(F.count(F.lit(1)).alias("_holders"))
    limit = per_type(config, "max_users_per_value")
    shared = holders.where(F.col("_holders") > limit).withColumn("_limit", limit)
    kept = edges.join(shared, ["id_type", "id_value"], "left_anti")
    dropped = edges.join(shared, ["id_type", "id_value"]).select(
        "user_id",
        "id_type",
        "id_value",
        F.lit("shared_value").alias("reason"),
        F.format_string("%s linked to %d user ids (max_users_per_value %d)", "id_type", "_holders", "_limit").alias(
            "detail"
        ),
    )
    return kept, dropped
