"""Reconciliation: per source, records read = accepted + quarantined + duplicates dropped.

The outcome counts come from one aggregation over the tagged records (status x reason, a handful of
rows); records read is counted on the parsed batch, independently, so a transformation that loses or
multiplies records (e.g. a join on a non-unique key) shows up as a mismatch before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.errors import ReconciliationError
from userscore.ingest.dedupe import ACCEPTED, DUPLICATE, QUARANTINED, STATUS
from userscore.ingest.rules import PROBLEMS, reason

AUDIT_TABLE = "ops.ingest_audit"


@dataclass(frozen=True)
class SourceCounts:
    """What happened to one source's records in one batch."""

    source: str
    records_read: int
    accepted: int
    quarantined: int
    duplicates_dropped: int
    reasons: Mapping[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.records_read == self.accepted + self.quarantined + self.duplicates_dropped

    def __str__(self) -> str:
        return (
            f"{self.source}: read {self.records_read:,}, accepted {self.accepted:,}, "
            f"quarantined {self.quarantined:,}, duplicates dropped {self.duplicates_dropped:,}"
        )


def outcome_counts(source: str, records_read: int, tagged: DataFrame) -> SourceCounts:
    """Count outcomes and quarantine reasons of ``tagged`` in one aggregation."""
    rows = (
        tagged.groupBy(F.col(STATUS).alias("status"), reason(F.col(PROBLEMS)).alias("reason"))
        .count()
        .collect()  # at most 3 statuses x the reason codes
    )
    by_status = {s: 0 for s in (ACCEPTED, QUARANTINED, DUPLICATE)}
    reasons: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        if row["status"] == QUARANTINED:
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + row["count"]
    return SourceCounts(
        source,
        records_read,
        by_status[ACCEPTED],
        by_status[QUARANTINED],
        by_status[DUPLICATE],
        dict(sorted(reasons.items())),
    )


def reconcile(batch_id: str, counts: Iterable[SourceCounts]) -> None:
    """Raise ReconciliationError listing every source whose counts do not add up."""
    bad = [c for c in counts if not c.balanced]
    if bad:
        lines = "; ".join(
            f"{c.source}: read {c.records_read} != accepted {c.accepted} + quarantined {c.quarantined} "
            f"+ duplicates {c.duplicates_dropped}"
            for c in bad
        )
        raise ReconciliationError(f"batch {batch_id} does not reconcile, nothing written: {lines}")


def audit_rows(
    spark: SparkSession,
    *,
    run_id: str,
    batch_id: str,
    counts: Sequence[SourceCounts],
    versions: Mapping[str, int],
    started_at: dt.datetime,
    finished_at: dt.datetime,
) -> DataFrame:
    """One ops.ingest_audit row per source; ``versions`` maps source -> silver table version written."""
    rows = [
        (
            run_id,
            batch_id,
            c.source,
            c.records_read,
            c.accepted,
            c.quarantined,
            c.duplicates_dropped,
            versions.get(c.source),
            started_at,
            finished_at,
        )
        for c in counts
    ]
    schema = (
        "run_id string, batch_id string, source string, records_read long, accepted long, quarantined long, "
        "duplicates_dropped long, table_version long, started_at timestamp, finished_at timestamp"
    )
    return spark.createDataFrame(rows, schema)


def completed(catalog: Catalog) -> dict[tuple[str, str], dt.datetime]:
    """(batch_id, source) -> finished_at of every source batch recorded complete (bounded by batches x
    sources, so it is collected)."""
    if not catalog.exists(AUDIT_TABLE):
        return {}
    rows = catalog.read(AUDIT_TABLE).select("batch_id", "source", "finished_at").collect()
    return {(r["batch_id"], r["source"]): r["finished_at"] for r in rows}
