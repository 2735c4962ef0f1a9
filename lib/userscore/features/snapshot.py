"""Point-in-time assembly of one feature snapshot (features.user_features, partition as_of_date = D).

Plan, per snapshot:
1. orders and events are filtered to event time < D (with a month predicate so Delta prunes later
   partitions) and projected to the columns the config needs; an order counts as refunded only when its
   refund was recorded before D (``is_refunded`` is replaced by its value as of D, userscore.refunds), so
   every ``where: {is_refunded: ...}`` of the config is point in time;
2. ONE groupBy(user_id) per source computes every configured measure of every family, plus the
   preference family's per-category and per-channel figures, as conditional aggregates: one scan and
   one shuffle per source (after map-side partial aggregation), fixed-width aggregation buffers;
3. the users base (registered before D, level as of D) is left-joined with both on user_id (the
   aggregates are already partitioned by user_id), measures are finished with their documented defaults
   (no nulls), ratios and preferences derived, and the social family joined (the social run's per-user
   measures at the latest run at or before D, userscore.features.social);
4. the result is persisted, RFM quantile boundaries computed in one aggregation, scores and segments
   added; the interests' population normaliser is one global aggregate of the persisted per-user
   affinities, applied as literals (userscore.features.interests);
5. the customer-base family: the BTYD summary of the orders before D (one more aggregation of orders),
   BG/NBD fitted on its distinct groups on the driver, scores left-joined (userscore.features.customer_base).
Callers write ``Snapshot.features``, ``Snapshot.boundaries`` and ``Snapshot.population`` (the figures of
steps 4-5, userscore.features.population) inside the ``with`` block. Given an earlier snapshot's published
figures instead, steps 4-5 reuse them: the streaming rescoring's path for a few users.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.columns import (
    RFM_SCORE_COLUMNS,
    TENURE,
    customer_base_columns,
    feature_columns,
    interest_columns,
)
from userscore.config.features import FeaturesConfig, MeasureSpec, SourceSpec
from userscore.features import interests, preference, profile, rfm
from userscore.features.binning import ColumnBins, boundaries_frame
from userscore.features.customer_base import CustomerBase, PublishedFit, customer_base_at, with_customer_base
from userscore.features.families import finish_families
from userscore.features.measures import (
    Timing,
    aggregate_measures,
    finish_measures,
    point_in_time,
)
from userscore.features.population import PopulationStats
from userscore.features.social import with_social
from userscore.keys import AS_OF, KEY_COLUMNS, USER_ID
from userscore.persons import member_columns
from userscore.refunds import refunds_as_of


@dataclass(frozen=True)
class Sources:
    """The tables a snapshot reads (whole tables; the snapshot applies the point-in-time filter): the silver
    tables, and the social runs' per-user table (``features.social.table``, read when that is configured)."""

    users: DataFrame
    orders: DataFrame
    events: DataFrame
    level_changes: DataFrame
    social: DataFrame | None = None


@dataclass(frozen=True)
class Snapshot:
    """One computed snapshot: the feature rows, the RFM boundaries behind their scores, the BG/NBD fit,
    and the population figures all three came from (what ``features.population_stats`` publishes)."""

    as_of: dt.date
    features: DataFrame
    boundaries: DataFrame
    bins: tuple[ColumnBins, ...]
    customer_base: CustomerBase
    population: PopulationStats


def _source_columns(source: SourceSpec, measures: Mapping[str, MeasureSpec]) -> list[str]:
    """The columns of a source the measures need (Spark prunes the rest at the scan)."""
    needed = [USER_ID, source.time]
    for spec in measures.values():
        needed += [*([spec.column] if spec.column else []), *spec.where]
    return list(dict.fromkeys(needed))


def _per_user(
    source: DataFrame, spec: SourceSpec, measures: Mapping[str, MeasureSpec], timing: Timing, trends: set[str]
) -> DataFrame:
    """ONE aggregation of one source's rows before D: every measure, one row per user with rows."""
    rows = point_in_time(source, spec.time, spec.month, timing.as_of).select(*_source_columns(spec, measures))
    return aggregate_measures(rows, measures, spec.time, timing, trends)


def unscored_features(sources: Sources, as_of: dt.date, config: FeaturesConfig) -> DataFrame:
    """All feature families except the RFM scores and the interests, one row per user registered before D.

    Carries the internal buyer flag ``rfm.BUYER`` that :func:`rfm.score_rfm` needs and drops, and the
    per-category interest affinities that :func:`interests.with_interests` turns into lifts and drops.
    """
    timing = Timing.of(as_of, config)
    pref = config.preference
    measures = {
        **config.measures(),
        **preference.internal_measures(pref),
        **interests.internal_measures(config.interests, pref.categories),
    }
    trends = {name for family in config.measure_families().values() for name in family.trends}
    joined = profile.users_base(sources.users, config.sources, config.profile, as_of).transform(
        profile.with_member_level,
        profile.levels_as_of(sources.level_changes, config.sources, as_of),
        config.profile,
    )
    for name in ("orders", "events"):
        of_source = {n: spec for n, spec in measures.items() if spec.source == name}
        if of_source:
            rows = getattr(sources, name)
            time = getattr(config.sources, name).time
            if name == "orders":
                rows = rows.transform(refunds_as_of, timing.as_of_ts)
                rows = interests.weighted_orders(rows, config.interests, time, timing.as_of_ts)
            else:
                rows = interests.weighted_events(rows, config.interests, time, timing.as_of_ts)
            per_user = _per_user(rows, getattr(config.sources, name), of_source, timing, trends)
            joined = joined.join(per_user, USER_ID, "left")
    finished = (
        joined.withColumn(rfm.BUYER, F.coalesce(rfm.buyer_flag(config.rfm), F.lit(False)))
        .transform(finish_measures, measures, timing, trends, TENURE)
        .transform(finish_families, config.measure_families())
        .transform(preference.finish_preference, pref)
        .transform(interests.with_affinities, config.interests, pref.categories)
    )
    if config.social is not None:
        if sources.social is None:
            raise ValueError(f"features.social is configured: Sources.social must hold {config.social.table}")
        finished = with_social(finished, sources.social, as_of, config.social)
    late = {*RFM_SCORE_COLUMNS, *interest_columns(config.interests), *customer_base_columns(config.customer_base)}
    unscored = [c for c in feature_columns(config) if c not in late]
    carried = [rfm.BUYER, *interests.affinity_columns(pref.categories)]
    return finished.select(USER_ID, F.lit(as_of).alias(AS_OF), *member_columns(finished), *unscored, *carried)


@contextmanager
def snapshot(
    sources: Sources,
    as_of: dt.date,
    config: FeaturesConfig,
    storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK,
    published: PopulationStats | None = None,
) -> Iterator[Snapshot]:
    """Compute the snapshot for ``as_of``; its features stay persisted while the block writes them.

    Without ``published``, the population figures (RFM bins, interest totals, BG/NBD fit) are computed over
    ``sources`` and the unscored features are read three times (quantile boundaries, the interests'
    population aggregate, then the scored rows), hence the persist. With ``published`` (an earlier
    snapshot's figures, userscore.features.population), ``sources`` may hold a few users only: each row is
    what the full snapshot computes for that user under those figures.
    """
    features = unscored_features(sources, as_of, config).persist(storage_level)
    categories = config.preference.categories
    fit = published.customer_base if published is not None else None
    try:
        with customer_base_at(
            sources.orders, as_of, config.sources.orders, config.customer_base, storage_level, fit
        ) as base:
            scored, bins = rfm.score_rfm(features, config.rfm, published.bins if published is not None else None)
            if published is None:
                fit = PublishedFit(base.params, base.failure, base.n_customers, base.n_groups)
                totals = interests.population_totals(features, categories)
                population = PopulationStats(as_of, tuple(bins), totals, fit)
            else:
                population = published
            scored = interests.with_interests(scored, config.interests, categories, population.interest_population)
            scored = with_customer_base(scored, base, config.customer_base)
            boundaries = boundaries_frame(features.sparkSession, as_of, bins, config.rfm.relative_error)
            columns = scored.select(*KEY_COLUMNS, *member_columns(scored), *feature_columns(config))
            yield Snapshot(as_of, columns, boundaries, tuple(bins), base, population)
    finally:
        features.unpersist()
