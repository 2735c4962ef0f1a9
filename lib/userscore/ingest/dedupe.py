"""Each record's outcome: accepted, quarantined, or a duplicate that is dropped (and counted).

Among the records of one key that passed every check:
- one is kept: the latest by ``keep_latest_by`` (or ``versioned_by``) when configured, then the first in
  landing order (file, position in the file): first seen wins, as it does across batches;
- a record identical to the kept one (same silver values) is a duplicate;
- a record with different values is quarantined as ``duplicate_key_conflict``; for a versioned source,
  one with an older version time than the kept one is quarantined as ``superseded_version`` instead (the
  source sent a later version of it in the same batch).
The kept record is then compared with the silver table as it was before this run, ignoring rows of this
same batch (a re-ingest replaces them):
- ``batch`` tables: a key present from another batch makes it a duplicate (first-seen wins);
- ``merge`` tables (profiles): it is a duplicate when the silver row is identical, or comes from a later
  batch (never overwrite newer data when an older batch is re-ingested); otherwise it updates the row;
- ``merge`` tables with ``versioned_by`` (orders): it is a duplicate when the silver row is identical; it
  updates the row when its version time is later than the silver row's; otherwise (an older or same-time
  version with different content, e.g. a stale re-send or a forced re-ingest of an older batch) it is
  quarantined as ``version_conflict``. Re-ingesting a batch gives the same outcomes, as its own rows are
  ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.ingest import BATCH_COLUMN
from userscore.ingest.parse import ARRIVAL
from userscore.ingest.rules import PROBLEMS, problem

STATUS = "_status"
ACCEPTED, QUARANTINED, DUPLICATE = "accepted", "quarantined", "duplicate"


def _content(columns: Sequence[str]):
    return F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns]))


def mark_outcomes(
    records: DataFrame,
    *,
    key: Sequence[str],
    content_columns: Sequence[str],
    keep_latest_by: str | None,
    existing: DataFrame | None,
    batch_id: str,
    merge: bool,
    versioned_by: str | None = None,
) -> DataFrame:
    """Add ``_status`` (and the problems of conflicting versions) to records carrying ``_problems``.

    Args:
        key: the table key; content_columns: the silver columns compared for identity (no batch id).
        keep_latest_by: the column ordering versions of a key, latest first (``versioned_by`` when set).
        existing: the silver table (rows of this batch are ignored), or None when it does not exist.
        versioned_by: the version-time column of a versioned merge source (see the module docstring).
    """
    valid = F.size(PROBLEMS) == 0
    # Only valid records are windowed: invalid ones (often with null keys) never meet the skewed window.
    invalid = records.where(~valid).withColumn(STATUS, F.lit(QUARANTINED))
    candidates = records.where(valid).withColumn("_content", _content(content_columns))

    order = ([F.col(f"`{keep_latest_by}`").desc_nulls_last()] if keep_latest_by else []) + [F.col(ARRIVAL)]
    by_key = Window.partitionBy(*[F.col(f"`{k}`") for k in key]).orderBy(*order)
    candidates = candidates.withColumn("_rank", F.row_number().over(by_key)).withColumn(
        "_kept_content", F.first("_content").over(by_key)
    )
    version = F.col(f"`{versioned_by}`") if versioned_by else None
    if version is not None:
        candidates = candidates.withColumn("_kept_version", F.first(version).over(by_key))

    prior_duplicate = F.lit(False)
    if existing is not None:
        prior = existing.where(F.col(BATCH_COLUMN) != batch_id).select(
            *[F.col(f"`{k}`") for k in key],
            F.col(BATCH_COLUMN).alias("_prior_batch"),
            (_content(content_columns) if merge or version is not None else F.lit(None).cast("string")).alias(
                "_prior_content"
            ),
            (version if version is not None else F.lit(None)).alias("_prior_version"),
        )
        candidates = candidates.join(prior, on=list(key), how="left")
        prior_duplicate = F.col("_prior_batch").isNotNull()
        if version is not None:
            prior_duplicate = prior_duplicate & (F.col("_prior_content") == F.col("_content"))
            stale = F.col("_prior_batch").isNotNull() & ~prior_duplicate & ~(version > F.col("_prior_version"))
        elif merge:
            prior_duplicate = prior_duplicate & (
                (F.col("_prior_batch") > F.lit(batch_id)) | (F.col("_prior_content") == F.col("_content"))
            )

    later = F.col("_rank") > 1
    identical = F.col("_content") == F.col("_kept_content")
    superseded = later & ~identical & (version < F.col("_kept_version")) if version is not None else F.lit(False)
    conflict = later & ~identical & ~superseded
    keys = ", ".join(key)
    conflict_text = f"duplicate_key_conflict: another record with the same {keys} was kept"
    problems = F.when(conflict, F.array(problem("duplicate_key_conflict", conflict_text)))
    status = F.when(later & identical, DUPLICATE).when(conflict | superseded, QUARANTINED)
    if version is not None:
        superseded_text = f"superseded_version: a later {versioned_by} of the same {keys} in this batch was kept"
        stale_text = F.format_string(
            f"version_conflict: silver has this {keys} from batch %s with {versioned_by} %s, not earlier than "
            "this record's, and different values",
            F.col("_prior_batch"),
            F.date_format(F.col("_prior_version"), "yyyy-MM-dd'T'HH:mm:ss'Z'"),
        )
        problems = problems.when(superseded, F.array(problem("superseded_version", superseded_text)))
        if existing is not None:
            status = status.when(stale, QUARANTINED)
            problems = problems.when(~later & stale, F.array(problem("version_conflict", stale_text)))
    status = status.when(prior_duplicate, DUPLICATE).otherwise(ACCEPTED)
    decided = candidates.withColumn(STATUS, status).withColumn(PROBLEMS, problems.otherwise(F.col(PROBLEMS)))
    return invalid.unionByName(decided.select(*invalid.columns))
