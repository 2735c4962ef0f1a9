"""Write point-in-time feature snapshots: features.user_features (+ features.rfm_boundaries and
features.population_stats, the population figures the streaming rescoring reuses).

Parameters:
  --as-of D                       one snapshot for date D (YYYY-MM-DD): users registered before D,
                                  rows with event time < D
  --from D1 --to D2 [--every Nd]  a backfill: snapshots D1, D1 + N days, ... up to D2 inclusive
                                  (default every 7d); training needs a series of snapshots
  --allow-empty                   also write snapshots without input: a date with no users registered
                                  or no orders before it gives no rows or only defaults (placeholder
                                  RFM boundaries); without this flag such a date is missing input

The social columns (features.social) come from the social run at D (`userscore social`, same dates): exit 2
naming the dates without one. The customer-base (BG/NBD) columns come from a fit at D on the orders before D;
a snapshot whose fit fails (e.g. nobody has repeated yet) is written with those model columns null, and the
job logs why.

With ``identity.resolve: true`` each snapshot at D is keyed by person: the person map of the latest identity run
at or before D (userscore.persons), ``member_user_ids`` listing each person's user ids; exit 2 when the first
date has no run at or before it.

Each snapshot replaces exactly its partition ``as_of_date = D`` of the three tables (re-running a date gives
the same rows and leaves other dates untouched). Dates and the silver inputs of every date are checked
before anything is written: exit 2 naming the dates and tables without input. Feature families, windows
and scores come from conf (``features``). A source declared absent (``ingest.absent_sources``) is read as
an empty table, whether or not ingest has created it: the measures over it keep their no-activity
defaults, and one log line names the families concerned.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from pyspark.sql import functions as F

from userscore.config.features import FeaturesConfig
from userscore.config.ingest import absent_tables
from userscore.errors import InputError
from userscore.features import AS_OF, snapshot
from userscore.features.inputs import (
    missing_inputs,
    missing_social_runs,
    person_sources,
    silver_sources,
    skipped_by_source,
)
from userscore.features.population import population_frame
from userscore.jobs.arguments import add_date_arguments, run_dates
from userscore.persons import person_maps
from userscore.runner import JobContext

HELP = "point-in-time feature snapshot(s) -> features.user_features"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date_arguments(parser, "snapshot")
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="write snapshots for dates with no users or no orders before them (default: exit 2)",
    )


def run(ctx: JobContext) -> Sequence[str]:
    args, config = ctx.args, ctx.config.features
    dates = run_dates(args)
    absent = absent_tables(ctx.config.ingest)
    catalog = ctx.catalog
    sources = silver_sources(catalog, config, absent)
    skipped = skipped_message(config, absent)
    if skipped:
        ctx.logger.info("%s", skipped)
    if not args.allow_empty:
        problems = missing_inputs(sources.users, sources.orders, config.sources, dates)
        if problems:
            raise InputError(f"{'; '.join(problems)}: nothing written (--allow-empty writes such snapshots)")
    if sources.social is not None:
        unrun = missing_social_runs(sources.social, config.social.table, dates)
        if unrun:
            raise InputError(f"{unrun}: nothing written")
    identity = ctx.config.identity
    persons = person_maps(catalog, identity.person_map_table, dates) if identity.resolve else None
    catalog.prepare(config.output_table, config.boundaries_table, config.population_table)
    lines = [skipped] if skipped else []
    for as_of in dates:
        started = time.perf_counter()
        keyed = sources if persons is None else person_sources(sources, persons.at(as_of), config)
        with ctx.stage(f"snapshot {as_of}"), snapshot(keyed, as_of, config) as snap:
            written = catalog.overwrite_where(config.output_table, snap.features, {AS_OF: as_of})
            catalog.overwrite_where(config.boundaries_table, snap.boundaries, {AS_OF: as_of})
            population = population_frame(
                catalog, config.population_table, snap.population, config.preference.categories
            )
            catalog.overwrite_where(config.population_table, population, {AS_OF: as_of})
            segments = snap.features.groupBy("rfm_segment").count().orderBy(F.desc("count"), "rfm_segment")
            mix = ", ".join(f"{r['rfm_segment']} {r['count']:,}" for r in segments.collect())
            base = snap.customer_base
        # A failed BG/NBD fit (e.g. nobody has repeated yet) is no job failure: its columns are null at D.
        (ctx.logger.info if base.params is not None else ctx.logger.warning)("snapshot %s: %s", as_of, base.describe())
        lines.append(
            f"{as_of}: {written.rows:,} users in {time.perf_counter() - started:.1f}s; segments: {mix}; "
            f"{base.describe()}"
        )
    return lines


def skipped_message(config: FeaturesConfig, absent: dict[str, str]) -> str | None:
    """One line naming what the absent sources leave at defaults (None when every source is present)."""
    skipped = skipped_by_source(config, absent)
    if not skipped:
        return None
    families = {name: len(family.measures) for name, family in config.families.items()}
    parts = []
    for source, by_family in skipped.items():
        table = getattr(config.sources, source).table
        listed = [
            f"{family} (all {len(names)} measures)"
            if len(names) == families.get(family)
            else f"{family} ({', '.join(names)})"
            for family, names in by_family.items()
        ]
        parts.append(f"{absent[table]} ({table}): {', '.join(listed)}")
    return "absent sources (ingest.absent_sources) read as empty, their features at no-activity defaults: " + "; ".join(
        parts
    )
