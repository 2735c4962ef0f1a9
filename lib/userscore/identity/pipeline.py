"""One identity run at D: read the inputs, stitch, give stable ids, write the three identity tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.ingest import absent_tables
from userscore.errors import InputError
from userscore.graph import local_checkpoint
from userscore.identity.links import identifier_edges, users_before
from userscore.identity.person_ids import assign_person_ids
from userscore.identity.stitch import stitch

AS_OF = "as_of_date"


@dataclass(frozen=True)
class IdentityOutcome:
    as_of: dt.date
    users: int
    persons: int
    multi_persons: int
    largest: int
    rounds: int
    dropped: dict[str, int]
    changes: dict[str, int]
    previous: dt.date | None


def previous_run(catalog: Catalog, table: str, as_of: dt.date) -> dt.date | None:
    """The latest run date before ``as_of`` in the person map (None: first run)."""
    if not catalog.exists(table):
        return None
    return catalog.read(table).where(F.col(AS_OF) < F.lit(as_of)).agg(F.max(AS_OF)).first()[0]


def run_identity(catalog: Catalog, config: Config, as_of: dt.date) -> IdentityOutcome:
    """Stitch the user ids registered before ``as_of`` and write partition ``as_of`` of the identity tables.

    InputError before any write when the profiles (or, unless declared absent, the links) are missing, or
    no user id was registered before ``as_of``.
    """
    identity = config.identity
    absent = absent_tables(config.ingest)
    for table in (identity.profiles_table, identity.links_table):
        if table not in absent and not catalog.exists(table):
            raise InputError(f"input table {table} does not exist at {catalog.location(table)}: run ingest first")
    profiles = catalog.read(identity.profiles_table)
    links = catalog.read_present(identity.links_table, absent)
    users = users_before(profiles, as_of).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if users.isEmpty():
            raise InputError(f"no user registered before {as_of} in {identity.profiles_table}: nothing to stitch")
        previous_date = previous_run(catalog, identity.person_map_table, as_of)
        previous = (
            catalog.read(identity.person_map_table).where(F.col(AS_OF) == F.lit(previous_date))
            if previous_date
            else None
        )
        catalog.prepare(*identity.tables)
        edges = local_checkpoint(identifier_edges(links, profiles, identity, as_of))
        stitched = stitch(users, edges, identity)
        ids = assign_person_ids(local_checkpoint(stitched.persons), previous, as_of)
        stamp = F.lit(as_of).alias(AS_OF)
        written = catalog.overwrite_where(identity.person_map_table, ids.person_map.select(stamp, "*"), {AS_OF: as_of})
        catalog.overwrite_where(identity.dropped_links_table, stitched.dropped.select(stamp, "*"), {AS_OF: as_of})
        catalog.overwrite_where(identity.changes_table, ids.changes.select(stamp, "*"), {AS_OF: as_of})
    finally:
        users.unpersist()
    return _outcome(catalog, config, as_of, written.rows, stitched.rounds, previous_date)


def _outcome(catalog: Catalog, config: Config, as_of: dt.date, users: int, rounds: int, previous) -> IdentityOutcome:
    identity = config.identity
    on = F.col(AS_OF) == F.lit(as_of)
    sizes = (
        catalog.read(identity.person_map_table, on)
        .groupBy("person_id")
        .agg(F.count(F.lit(1)).alias("n"))
        .agg(
            F.count(F.lit(1)).alias("persons"),
            F.sum((F.col("n") > 1).cast("int")).alias("multi"),
            F.max("n").alias("largest"),
        )
        .first()
    )
    dropped = {
        r["reason"]: r["count"]
        for r in catalog.read(identity.dropped_links_table, on).groupBy("reason").count().collect()
    }
    changes = {
        r["change"]: r["users"]
        for r in catalog.read(identity.changes_table, on).groupBy("change").agg(F.sum("users").alias("users")).collect()
    }
    return IdentityOutcome(
        as_of=as_of,
        users=users,
        persons=int(sizes["persons"]),
        multi_persons=int(sizes["multi"] or 0),
        largest=int(sizes["largest"] or 0),
        rounds=rounds,
        dropped=dict(sorted(dropped.items())),
        changes=dict(sorted(changes.items())),
        previous=previous,
    )


def summary_lines(outcome: IdentityOutcome, config: Config) -> list[str]:
    identity = config.identity
    dropped = ", ".join(f"{reason} {n:,}" for reason, n in outcome.dropped.items()) or "none"
    changes = ", ".join(f"{change} {n:,}" for change, n in outcome.changes.items()) or "none"
    since = f"since {outcome.previous}" if outcome.previous else "first run"
    return [
        f"{outcome.as_of}: {outcome.users:,} user ids -> {outcome.persons:,} persons "
        f"({outcome.multi_persons:,} with several user ids, the largest {outcome.largest}); "
        f"{outcome.rounds} connected-components rounds",
        f"links dropped by the merge protection: {dropped} ({identity.dropped_links_table})",
        f"user ids that changed person ({since}): {changes} ({identity.changes_table})",
        f"person map: {identity.person_map_table}",
    ]
