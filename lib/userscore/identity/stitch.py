"""Persons from identifier edges: connected components of user ids and values, then the per-person limits."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.identity import IdentityConfig
from userscore.graph import Checkpoint, connected_components, local_checkpoint
from userscore.identity.limits import RESOLVED_SCHEMA, resolve_frame
from userscore.identity.protection import DROPPED_COLUMNS, per_type, split_shared

_USER, _VALUE = "u\x1f", "v\x1f"  # node prefixes: a user id and an identifier value never collide


@dataclass(frozen=True)
class Stitched:
    """``persons``: (user_id, person_key) for every user id, person_key = the smallest user id of its person;
    ``dropped``: links the protection dropped (DROPPED_COLUMNS); ``rounds``: connected-components rounds."""

    persons: DataFrame
    dropped: DataFrame
    rounds: int


def stitch(
    users: DataFrame,
    edges: DataFrame,
    config: IdentityConfig,
    checkpoint: Checkpoint | None = None,
) -> Stitched:
    """Stitch ``users`` (user_id) by ``edges`` (user_id, id_type, id_value, linked_at; one row each).

    Shared values are dropped first; the remaining edges give candidate groups (connected components);
    a group within every limit is one person; a group that breaks one is resolved link by link in priority
    order (``limits.resolve_group``), groups of more than ``max_component_users`` user ids are not stitched.
    ``checkpoint`` materialises the working frames (connected components' rounds, the groups): see
    userscore.graph. ``edges`` is read several times: pass a materialised frame.
    """
    materialise = checkpoint or local_checkpoint
    kept, shared = split_shared(edges, config)
    graph = kept.select(
        F.concat(F.lit(_USER), "user_id").alias("src"),
        F.concat(F.lit(_VALUE), "id_type", F.lit("\x1f"), "id_value").alias("dst"),
    )
    components = connected_components(graph, checkpoint=materialise)
    group_of = materialise(
        components.assignments.where(F.col("node").startswith(_USER)).select(
            F.expr(f"substring(node, {len(_USER) + 1})").alias("user_id"), F.col("component").alias("group")
        )
    )
    linked = kept.join(group_of, "user_id")
    sizes = group_of.groupBy("group").agg(F.count(F.lit(1)).alias("users"), F.min("user_id").alias("first_user"))
    over_type = (
        linked.groupBy("group", "id_type")
        .agg(F.countDistinct("id_value").alias("values"))
        .where(F.col("values") > per_type(config, "max_per_person"))
        .select("group")
        .distinct()
    )
    status = materialise(
        sizes.join(over_type.withColumn("over_type", F.lit(True)), "group", "left").select(
            "group",
            "users",
            "first_user",
            F.when(F.col("users") > config.max_component_users, "too_large")
            .when(F.col("over_type").isNotNull() | (F.col("users") > config.max_person_users), "resolve")
            .otherwise("whole")
            .alias("status"),
        )
    )
    by_status = group_of.join(status, "group")
    whole = by_status.where(F.col("status") == "whole").select("user_id", F.col("first_user").alias("person_key"))
    alone = by_status.where(F.col("status") == "too_large").select("user_id", F.col("user_id").alias("person_key"))
    too_large = linked.join(status.where(F.col("status") == "too_large"), "group").select(
        "user_id",
        "id_type",
        "id_value",
        F.lit("component_too_large").alias("reason"),
        F.format_string(
            "a group of %d user ids joined by identifiers (max_component_users %d)",
            "users",
            F.lit(config.max_component_users),
        ).alias("detail"),
    )
    resolved = materialise(  # read twice below: the greedy pass runs once
        linked.join(status.where(F.col("status") == "resolve").select("group"), "group")
        .groupBy("group")
        .applyInPandas(lambda rows: resolve_frame(rows, config), RESOLVED_SCHEMA)
    )
    split = resolved.where(F.col("reason").isNull()).select("user_id", "person_key")
    limited = resolved.where(F.col("reason").isNotNull()).select(*DROPPED_COLUMNS)
    persons = users.join(whole.unionByName(alone).unionByName(split), "user_id", "left").select(
        "user_id", F.coalesce("person_key", "user_id").alias("person_key")
    )
    return Stitched(persons, shared.unionByName(too_large).unionByName(limited), components.rounds)
