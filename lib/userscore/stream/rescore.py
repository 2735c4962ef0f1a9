"""Rescore a few users as of D with the batch code, and MERGE their rows into the live and wide tables.

The features are the snapshot's own (userscore.features.snapshot) over the silver rows of these users
only, against the population figures a batch snapshot published (RFM bins, interest totals, BG/NBD fit:
userscore.features.population); the scores are the fused pass of the score job over those features, with
the same champions, BTYD model, tiers, reasons and tags. So a user's row is, column for column, the row the
batch `features --as-of D` + `score --as-of D` jobs give when that snapshot's figures are the published
ones (tests/stream prove it); with identity.resolve, a user's person is rescored. Each row is stamped with D
(as_of_date), the rescoring time (scored_at) and its model versions.

Writes: the live scores table (MERGE by user_id: every rescored row), then the tag wide table with the
score job's semantics (rows already from a newer snapshot are left alone; a row is rewritten only when a
value other than as_of_date and scored_at changed, so its Change Data Feed carries real changes only).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.config.ingest import absent_tables
from userscore.features import Sources, snapshot
from userscore.features.inputs import person_sources, silver_sources
from userscore.features.population import PopulationStats
from userscore.keys import USER_ID
from userscore.persons import PERSON_ID, by_person, person_map_at
from userscore.scoring.customer_base import load_customer_base
from userscore.scoring.fuse import fused_scores
from userscore.scoring.models import Champions, champion_records, load_champions
from userscore.scoring.writer import UNCHANGED_IF_ONLY, wide_source
from userscore.tags import TagDictionary, load_dictionary


@dataclass(frozen=True)
class Scorer:
    """The loaded champions and tag dictionary; ``versions`` (registered model name -> registry version)
    tells when the registry has promoted another champion since they were loaded."""

    champions: Champions
    dictionary: TagDictionary
    versions: dict[str, str]


def load_scorer(config: Config, previous: Scorer | None = None, logger: logging.Logger | None = None) -> Scorer:
    """The champions of every scored target and uplift type (InputError naming a missing required one),
    reusing ``previous`` when the registry still points at the same versions."""
    targets, tracking, alias = config.scoring.targets, config.models.tracking, config.models.promotion.alias
    uplift = config.scoring.uplift
    records = champion_records(targets, tracking, alias, Path(config.root), uplift)
    if previous is not None and previous.versions == {name: r.version for name, r in records.items()}:
        return previous
    champions = load_champions(targets, tracking, alias, Path(config.root), uplift)
    if previous is not None and logger is not None:
        logger.info("champions changed: %s", ", ".join(f"{c.model_name} v{c.version}" for c in champions.all))
    loaded = {c.model_name: c.version for c in champions.all}
    return Scorer(champions, load_dictionary(config.tags), loaded)


@dataclass(frozen=True)
class Rescored:
    """One rescoring: how many users, under which published figures, and the two writes."""

    rows: int
    population_as_of: dt.date
    writes: tuple[WriteResult, ...]

    @property
    def wide_rows_changed(self) -> int:
        """Wide-table rows the MERGE rewrote (a value other than as_of_date and scored_at changed)."""
        return self.writes[-1].rows if self.writes[-1].committed else 0


@dataclass(frozen=True)
class LiveInputs:
    """What rescoring a few users reads: the snapshot's inputs restricted to them, the keys of the rows they
    give, and ``rows_of`` (a table's rows of these users, keyed as the inputs are)."""

    sources: Sources
    keys: DataFrame
    rows_of: Callable[[DataFrame], DataFrame]


def live_inputs(catalog: Catalog, config: Config, users: DataFrame, as_of: dt.date) -> LiveInputs:
    """The inputs of rescoring ``users`` (one user_id column, a few users). The social family reads every
    social run of those users: the snapshot takes the latest one before the live date. With identity.resolve
    the keys are the persons of ``users`` (the map in force at ``as_of``) and the rows every member's, keyed by
    person."""
    identity = config.identity
    person_map = person_map_at(catalog, identity.person_map_table, as_of) if identity.resolve else None
    keys, chosen = users, users
    if person_map is not None:
        # Broadcast semi-joins: the map is scanned, never shuffled, for a few users.
        theirs = person_map.join(F.broadcast(users), USER_ID, "left_semi")
        keys = by_person(users, theirs).distinct()
        person_map = person_map.join(F.broadcast(theirs.select(PERSON_ID).distinct()), PERSON_ID, "left_semi")
        chosen = person_map.select(USER_ID).unionByName(users).distinct()
    chosen = F.broadcast(chosen)

    def rows_of(table: DataFrame) -> DataFrame:
        rows = table.join(chosen, USER_ID, "left_semi")
        return rows if person_map is None else by_person(rows, person_map)

    silver = silver_sources(catalog, config.features, absent_tables(config.ingest))
    tables = {f.name: getattr(silver, f.name) for f in fields(silver)}
    sources = Sources(**{k: t if t is None else t.join(chosen, USER_ID, "left_semi") for k, t in tables.items()})
    if person_map is not None:
        sources = person_sources(sources, person_map, config.features)
    return LiveInputs(sources, keys, rows_of)


def rescore(
    catalog: Catalog,
    config: Config,
    users: DataFrame,
    as_of: dt.date,
    scored_at: dt.datetime,
    scorer: Scorer,
    published: PopulationStats,
    logger: logging.Logger | None = None,
) -> Rescored:
    """Recompute ``users``' features at ``as_of`` against ``published``, score them and write both tables.

    Args:
        users: one ``user_id`` column (distinct); users not registered before ``as_of`` get no row.
        scored_at: naive UTC, written to every row.
    """
    scoring, live = config.scoring, config.stream.live_table
    inputs = live_inputs(catalog, config, users.select(USER_ID).distinct(), as_of)
    with snapshot(inputs.sources, as_of, config.features, published=published) as snap:
        orders = inputs.rows_of(catalog.read(config.btyd.orders_table)) if config.scoring.btyd.enabled else None
        base = load_customer_base(catalog, config, as_of, logger, orders=orders)
        scores = fused_scores(
            snap.features, scorer.champions, scoring, scorer.dictionary, scored_at, customer_base=base
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            rows = scores.count()
            writes = (catalog.merge(live, scores),)
            wide = wide_source(catalog, scoring.wide_table, scores, as_of)
            writes += (catalog.merge(scoring.wide_table, wide, ignore_changes=UNCHANGED_IF_ONLY),)
        finally:
            scores.unpersist()
    return Rescored(rows, published.as_of, writes)
