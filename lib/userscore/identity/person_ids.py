"""Person ids that survive re-runs: a person keeps its id while it keeps the majority of its user ids."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class PersonIds:
    """``person_map``: (user_id, person_id, person_users); ``changes``: (person_id, change,
    previous_person_id, users), see identity.person_changes."""

    person_map: DataFrame
    changes: DataFrame


def new_person_id(person_key: F.Column, as_of: dt.date) -> F.Column:
    """The id of a person that inherits none: a hash of its smallest user id and the run date, so a re-run
    gives the same id and no later person can take an id an earlier run gave."""
    return F.concat(F.lit("p-"), F.substring(F.sha2(F.concat(person_key, F.lit(f"|{as_of.isoformat()}")), 256), 1, 16))


def assign_person_ids(persons: DataFrame, previous: DataFrame | None, as_of: dt.date) -> PersonIds:
    """Ids for ``persons`` (user_id, person_key) given the previous run's map (user_id, person_id).

    A person inherits the id of a previous person when it holds more than half of that person's user ids
    (so each previous id goes to at most one person); holding the majority of several, it keeps the one it
    shares most user ids with (then the smallest id). The others get ``new_person_id``.
    """
    sizes = persons.groupBy("person_key").agg(F.count(F.lit(1)).cast("int").alias("person_users"))
    if previous is None:
        previous = persons.sparkSession.createDataFrame([], "user_id string, person_id string")
    previous = previous.select("user_id", F.col("person_id").alias("previous_person_id"))
    previous_sizes = previous.groupBy("previous_person_id").agg(F.count(F.lit(1)).alias("previous_users"))
    overlap = (
        persons.join(previous, "user_id")
        .groupBy("person_key", "previous_person_id")
        .agg(F.count(F.lit(1)).alias("shared"))
    )
    inherited = (
        overlap.join(previous_sizes, "previous_person_id")
        .where(F.col("shared") * 2 > F.col("previous_users"))
        .groupBy("person_key")
        .agg(F.min(F.struct(-F.col("shared"), F.col("previous_person_id"))).alias("best"))
        .select("person_key", F.col("best.previous_person_id").alias("inherited"))
    )
    ids = sizes.join(inherited, "person_key", "left").select(
        "person_key",
        F.coalesce("inherited", new_person_id(F.col("person_key"), as_of)).alias("person_id"),
        "person_users",
    )
    person_map = persons.join(ids, "person_key").select("user_id", "person_id", "person_users")
    return PersonIds(person_map, _changes(person_map, previous))


def _changes(person_map: DataFrame, previous: DataFrame) -> DataFrame:
    """One row per (person, previous person) whose user ids moved: ``new`` (no previous person), ``split``
    (the previous person's user ids went to several persons), ``merge`` (all to this one, under another id)."""
    moved = person_map.join(previous, "user_id", "left").where(
        F.col("previous_person_id").isNull() | (F.col("previous_person_id") != F.col("person_id"))
    )
    spread = (
        person_map.join(previous, "user_id")
        .groupBy("previous_person_id")
        .agg(F.countDistinct("person_id").alias("successors"))
    )
    return (
        moved.groupBy("person_id", "previous_person_id")
        .agg(F.count(F.lit(1)).cast("int").alias("users"))
        .join(spread, "previous_person_id", "left")
        .select(
            "person_id",
            F.when(F.col("previous_person_id").isNull(), "new")
            .when(F.col("successors") > 1, "split")
            .otherwise("merge")
            .alias("change"),
            "previous_person_id",
            "users",
        )
    )
