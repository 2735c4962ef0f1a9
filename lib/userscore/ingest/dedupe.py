"""Each record's outcome: accepted, quarantined, or a duplicate that is dropped (and counted).

Among the records of one key that passed every check:
- one is kept: the latest by ``keep_latest_by`` when configured, then the first in landing order (file,
  position in the file): first seen wins, as it does across batches;
- a record identical to the kept one (same silver values) is a duplicate;
- a record with different values is quarantined as ``duplicate_key_conflict``.
The kept record is then compared with the silver table as it was before this run, ignoring rows of this
same batch (a re-ingest replaces them):
- ``batch`` tables: a key present from another batch makes it a duplicate (first-seen wins);
- ``merge`` tables (profiles): it is a duplicate when the silver row is identical, or comes from a later
  batch (never overwrite newer data when an older batch is re-ingested); otherwise it updates the row.
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
STATUSES = (ACCEPTED, QUARANTINED, DUPLICATE)


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
) -> DataFrame:
    """Add ``_status`` (and the ``duplicate_key_conflict`` problem) to records carrying ``_problems``.

    Args:
        key: the table key; content_columns: the silver columns compared for identity (no batch id).
        existing: the silver table (rows of this batch are ignored), or None when it does not exist.
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

    prior_duplicate = F.lit(False)
    if existing is not None:
        prior = existing.where(F.col(BATCH_COLUMN) != batch_id).select(
            *[F.col(f"`{k}`") for k in key],
            F.col(BATCH_COLUMN).alias("_prior_batch"),
            (_content(content_columns) if merge else F.lit(None).cast("string")).alias("_prior_content"),
        )
        candidates = candidates.join(prior, on=list(key), how="left")
        prior_duplicate = F.col("_prior_batch").isNotNull()
        if merge:
            prior_duplicate = prior_duplicate & (
                (F.col("_prior_batch") > F.lit(batch_id)) | (F.col("_prior_content") == F.col("_content"))
            )

    later = F.col("_rank") > 1
    identical = F.col("_content") == F.col("_kept_content")
    conflict = later & ~identical
    status = (
        F.when(later & identical, DUPLICATE)
        .when(conflict, QUARANTINED)
        .when(prior_duplicate, DUPLICATE)
        .otherwise(ACCEPTED)
    )
    conflict_text = f"duplicate_key_conflict: another record with the same {', '.join(key)} was kept"
    decided = candidates.withColumn(STATUS, status).withColumn(
        PROBLEMS, F.when(conflict, F.array(problem("duplicate_key_conflict", conflict_text))).otherwise(F.col(PROBLEMS))
    )
    return invalid.unionByName(decided.select(*invalid.columns))
