"""Keying by person (``identity.resolve: true``): the user ids of one person become one key.

A stage that keys its rows by user reads its inputs through :func:`by_person`, whose ``user_id`` column then
holds the person id of the identity run at or before the stage's date (identity.person_map); a user id that
run does not know (registered since) stays its own key. Nothing downstream changes: features, labels, BTYD
summaries, scores and the wide table are one row per person, and :func:`person_profiles` gives each person one
profile, its earliest-registered member's, with ``member_user_ids`` (sorted) listing its user ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config.identity import IdentityConfig
from userscore.errors import InputError
from userscore.keys import AS_OF, USER_ID

PERSON_ID = "person_id"
MEMBERS = "member_user_ids"


def member_columns(df: DataFrame | Sequence[str]) -> list[str]:
    """``[member_user_ids]`` when ``df`` (a frame or its columns) is keyed by person, else none: the column
    rides along with the key."""
    return [MEMBERS] if MEMBERS in (df.columns if isinstance(df, DataFrame) else df) else []


@dataclass(frozen=True)
class PersonMaps:
    """The person map in force at each of some dates: at D, the latest identity run at or before D."""

    table: DataFrame
    run_at: Mapping[dt.date, dt.date]

    def at(self, as_of: dt.date) -> DataFrame:
        """(user_id, person_id) in force at ``as_of`` (one of the dates these maps were made for)."""
        return self.table.where(F.col(AS_OF) == F.lit(self.run_at[as_of])).select(USER_ID, PERSON_ID)

    def dates_by_run(self, dates: Sequence[dt.date]) -> dict[dt.date, list[dt.date]]:
        """Identity run -> the ``dates`` whose map it is, in date order."""
        grouped: dict[dt.date, list[dt.date]] = {}
        for d in sorted(dates):
            grouped.setdefault(self.run_at[d], []).append(d)
        return grouped


def person_maps(catalog: Catalog, table: str, dates: Sequence[dt.date]) -> PersonMaps:
    """The maps in force at ``dates`` (the run dates reach the driver, one row per run).

    InputError when a date has no run at or before it: keying by person without a map would key by user.
    """
    maps = catalog.read(table) if catalog.exists(table) else None
    runs = [] if maps is None else sorted(r[0] for r in maps.select(AS_OF).distinct().collect())
    unmapped = [d for d in sorted(dates) if not runs or runs[0] > d]
    if unmapped:
        raise InputError(
            f"identity.resolve is on but {table} has no identity run at or before {unmapped[0]}: run "
            f"`userscore identity --as-of {unmapped[0]}` (or an earlier date) first"
        )
    run_at = {d: max(r for r in runs if r <= d) for d in dates}
    return PersonMaps(maps, run_at)


def person_map_at(catalog: Catalog, table: str, as_of: dt.date) -> DataFrame:
    """(user_id, person_id) of the latest identity run at or before ``as_of`` (InputError when none)."""
    return person_maps(catalog, table, [as_of]).at(as_of)


def keyed_at(catalog: Catalog, identity: IdentityConfig, rows: DataFrame, as_of: dt.date) -> DataFrame:
    """``rows`` keyed by person at ``as_of`` when ``identity.resolve`` is on, else ``rows`` itself."""
    if not identity.resolve:
        return rows
    return by_person(rows, person_map_at(catalog, identity.person_map_table, as_of))


def by_person(rows: DataFrame, person_map: DataFrame) -> DataFrame:
    """``rows`` with ``user_id`` replaced by its person id (unchanged for a user id the map does not hold)."""
    return (
        rows.join(person_map, USER_ID, "left")
        .withColumn(USER_ID, F.coalesce(F.col(PERSON_ID), F.col(USER_ID)))
        .drop(PERSON_ID)
    )


def person_profiles(users: DataFrame, person_map: DataFrame, registered: str) -> DataFrame:
    """One profile per person: the row of its member registered first (then the smallest user id), keyed by
    the person id, with ``member_user_ids``. One aggregation: no window, no second pass."""
    others = [c for c in users.columns if c not in (USER_ID, registered)]
    first = F.min(F.struct(registered, USER_ID, *others)).alias("_first")
    return (
        users.join(person_map, USER_ID, "left")
        .withColumn(PERSON_ID, F.coalesce(F.col(PERSON_ID), F.col(USER_ID)))
        .groupBy(PERSON_ID)
        .agg(first, F.sort_array(F.collect_list(USER_ID)).alias(MEMBERS))
        .select(
            F.col(PERSON_ID).alias(USER_ID),
            *[F.col(f"_first.{c}").alias(c) for c in users.columns if c != USER_ID],
            MEMBERS,
        )
    )
