"""What the snapshot inputs lack: dates without users or orders before them, or without a social run; absent
sources.

A snapshot date with no users registered before D, or no orders before D, would be empty (no users) or hold
only defaults with placeholder RFM boundaries (no orders): a date before the data starts, almost always a
mistake. Events and level changes are not checked: a shop without behaviour tracking still has meaningful
snapshots. One min() per source answers for every date, since "a row before D" holds for every D after the
earliest row.

A source the business does not have (ingest.absent_sources) is read as an empty table: the measures over
it keep their no-activity defaults, and :func:`skipped_by_source` says which families that touches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, declared_schema
from userscore.config.features import FeaturesConfig, FeatureSources
from userscore.errors import InputError
from userscore.features import interests, preference
from userscore.features.snapshot import Sources
from userscore.keys import AS_OF, USER_ID
from userscore.persons import by_person, person_profiles

SOURCE_NAMES = ("users", "orders", "events", "level_changes")

_SHOWN = 3


def silver_sources(catalog: Catalog, config: FeaturesConfig, absent: Collection[str]) -> Sources:
    """The silver tables a snapshot reads; an ``absent`` table (ingest.absent_sources) is an empty frame of
    its declared schema, whatever it holds. InputError naming every other table that does not exist."""
    names = {k: getattr(config.sources, k).table for k in SOURCE_NAMES}
    missing = [
        f"{table} ({catalog.location(table)})"
        for table in names.values()
        if table not in absent and not catalog.exists(table)
    ]
    if missing:
        raise InputError(f"silver inputs missing: {', '.join(missing)}; run ingest first")
    empty = {
        t: catalog.spark.createDataFrame([], declared_schema(catalog.spec(t))) for t in names.values() if t in absent
    }
    # The social runs' table, empty before the first run: missing_social_runs then names every date.
    social = None
    if config.social is not None:
        table = config.social.table
        empty_runs = catalog.spark.createDataFrame([], declared_schema(catalog.spec(table)))
        social = catalog.read(table) if catalog.exists(table) else empty_runs
    return Sources(**{k: empty[t] if t in absent else catalog.read(t) for k, t in names.items()}, social=social)


def person_sources(sources: Sources, person_map: DataFrame, config: FeaturesConfig) -> Sources:
    """``sources`` keyed by person (identity.resolve, userscore.persons): one profile per person (its first
    registered member's, with ``member_user_ids``), every order, event and level change of a member under the
    person's id, and per social run the largest measure of its members (a KOL member makes the person one)."""
    social = sources.social
    if social is not None and config.social is not None:
        social = (
            by_person(social, person_map)
            .groupBy(USER_ID, AS_OF)
            .agg(*[F.max(c).alias(c) for c in config.social.columns])
        )
    return Sources(
        users=person_profiles(sources.users, person_map, config.sources.users.time),
        orders=by_person(sources.orders, person_map),
        events=by_person(sources.events, person_map),
        level_changes=by_person(sources.level_changes, person_map),
        social=social,
    )


def missing_social_runs(social: DataFrame, table: str, dates: Sequence[dt.date]) -> str | None:
    """A phrase naming the ``dates`` without a social run (no partition ``as_of_date`` = D of ``table``, the
    social per-user table); None when every date has one."""
    runs = {r[0] for r in social.where(F.col(AS_OF).isin(list(dates))).select(AS_OF).distinct().collect()}
    unrun = [d for d in dates if d not in runs]
    if not unrun:
        return None
    return (
        f"no social run in {table} at {_dates(unrun)}: the social family (features.social) needs one per "
        "snapshot date; run `userscore social` with the same dates first"
    )


def _dates(dates: Sequence[dt.date]) -> str:
    shown = ", ".join(d.isoformat() for d in dates[:_SHOWN])
    return shown + (f" and {len(dates) - _SHOWN} more dates" if len(dates) > _SHOWN else "")


def earliest(df: DataFrame, time_column: str) -> dt.datetime | None:
    """The earliest event time of ``df`` in the session time zone (UTC), None when it has no rows."""
    # Formatted by Spark: collecting a timestamp would convert it to the driver's local time zone.
    text = df.agg(F.date_format(F.min(time_column), "yyyy-MM-dd HH:mm:ss")).first()[0]
    return None if text is None else dt.datetime.fromisoformat(text)


def missing_inputs(users: DataFrame, orders: DataFrame, sources: FeatureSources, dates: Sequence[dt.date]) -> list[str]:
    """One phrase per source without rows before some of ``dates``; empty when every date has input."""
    problems = []
    for df, spec, what in ((users, sources.users, "users registered"), (orders, sources.orders, "orders")):
        first = earliest(df, spec.time)
        empty = [d for d in dates if first is None or first >= dt.datetime.combine(d, dt.time())]
        if not empty:
            continue
        since = f"earliest {spec.time} {first:%Y-%m-%d %H:%M:%S}" if first else "the table is empty"
        problems.append(f"no {what} before {_dates(empty)} in {spec.table} ({since})")
    return problems


def skipped_by_source(features: FeaturesConfig, absent_tables: Collection[str]) -> dict[str, dict[str, list[str]]]:
    """Feature source over an absent silver table -> {family: what of it is skipped}, in config order.

    A family needs a source when one of its measures names it (``MeasureSpec.source``, a key of
    ``features.sources`` whose ``table`` is compared with ``absent_tables``). Three readers are not measures:
    the preference family's per-category visits (events), the interests' per-category event signals (their
    purchases still count) and the profile's member level as of D (level changes; without them the users
    table's current level is used).
    """
    skipped: dict[str, dict[str, list[str]]] = {}
    measures = {family: dict(config.measures) for family, config in features.families.items()}
    visits = {n: m for n, m in preference.internal_measures(features.preference).items() if m.source != "orders"}
    categories = features.preference.categories
    signals = interests.internal_measures(features.interests, categories)
    for source in ("users", "orders", "events", "level_changes"):
        if getattr(features.sources, source).table not in absent_tables:
            continue
        families = {
            family: [name for name, spec in of_family.items() if spec.source == source]
            for family, of_family in measures.items()
        }
        if any(m.source == source for m in visits.values()):
            families["preference"] = ["category visits"]
        if any(m.source == source for m in signals.values()):
            families["interests"] = [f"{source} signals"]
        if source == "level_changes":
            families["profile"] = [f"{features.profile.level_column} as of D"]
        skipped[source] = {family: names for family, names in families.items() if names}
    return skipped
