"""Write one snapshot's scores to the output tables, each in one atomic Delta commit.

Order: scores.user_scores (replaceWhere on as_of_date = D), then tags.user_tag_wide (MERGE by user_id),
then audiences.segment_members and audiences.excluded_members (replaceWhere on as_of_date = D): matches
whose user lacks a purpose of consent.required.audiences go to the second, with the reason. A failure
inside a write leaves that table at its previous version (Delta commits nothing); tables written before
it hold the complete new snapshot, tables after it the previous one; re-running D (idempotent)
completes the set.

Wide table semantics: a row is rewritten only when one of its values changed (``as_of_date`` and
``scored_at`` alone do not count), so the Change Data Feed carries only real changes; a row's
``as_of_date`` is the snapshot its current values come from. Rows already holding a newer snapshot
than D are left alone, so back-filling an old date never overwrites newer values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config.scoring import ScoringConfig
from userscore.config.segments import SegmentsConfig
from userscore.keys import AS_OF
from userscore.persons import MEMBERS
from userscore.privacy.consent import REASON, with_exclusion_reason
from userscore.scoring.audiences import segment_members

UNCHANGED_IF_ONLY = ("as_of_date", "scored_at")


def wide_source(catalog: Catalog, table: str, scores: DataFrame, as_of: dt.date) -> DataFrame:
    """The MERGE source: every score row, minus users whose wide row is already from a newer snapshot."""
    if not catalog.exists(table):
        return scores
    newer = catalog.read(table, where=F.col(AS_OF) > F.lit(as_of)).select("user_id")
    # Daily runs move forward and find nothing newer (Delta skips files by as_of_date statistics); only
    # a back-fill pays for the anti-join.
    if newer.limit(1).count() == 0:
        return scores
    return scores.join(newer, "user_id", "left_anti")


@dataclass(frozen=True)
class AudienceConsent:
    """The consent audiences honour: events (silver.consents), purposes required, a missing record's consent."""

    consents: DataFrame
    purposes: tuple[str, ...]
    missing: str


def write_outputs(
    catalog: Catalog,
    scores: DataFrame,
    scoring: ScoringConfig,
    segments: SegmentsConfig,
    as_of: dt.date,
    consent: AudienceConsent | None = None,
) -> list[WriteResult]:
    """Write the score rows of snapshot ``as_of`` (persisted by the caller: each write reads them)."""
    partition = {AS_OF: as_of}
    catalog.prepare(scoring.scores_table, scoring.wide_table, *([segments.table] if segments.families else []))
    results = [catalog.overwrite_where(scoring.scores_table, scores, partition)]
    wide = wide_source(catalog, scoring.wide_table, scores, as_of)
    results.append(catalog.merge(scoring.wide_table, wide, ignore_changes=UNCHANGED_IF_ONLY))
    if segments.families:
        results += _write_audiences(catalog, segment_members(scores, segments), segments, partition, consent)
    return results


def _write_audiences(
    catalog: Catalog,
    matched: DataFrame,
    segments: SegmentsConfig,
    partition: dict,
    consent: AudienceConsent | None,
) -> list[WriteResult]:
    if consent is None:
        matched = matched.withColumn(REASON, F.lit(None).cast("string"))
    else:
        day = partition[AS_OF]
        matched = with_exclusion_reason(matched, consent.consents, day, consent.purposes, consent.missing)
    # Both writes read the matches: join the consent events once.
    matched = matched.drop(MEMBERS).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        members = matched.where(F.col(REASON).isNull()).drop(REASON)
        excluded = matched.where(F.col(REASON).isNotNull())
        return [
            catalog.overwrite_where(segments.table, members, partition),
            catalog.overwrite_where(segments.excluded_table, excluded, partition),
        ]
    finally:
        matched.unpersist()
