"""Rejected records as rows of silver.quarantine: the raw record as text, the reason and every problem."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.ingest.dedupe import QUARANTINED, STATUS
from userscore.ingest.parse import RAW_RECORD
from userscore.ingest.rules import PROBLEMS, detail, reason

QUARANTINE_TABLE = "silver.quarantine"


def quarantine_rows(tagged: DataFrame, source: str, batch_id: str, run_id: str, at: dt.datetime) -> DataFrame:
    """The quarantined records of one source, in the columns of silver.quarantine."""
    return tagged.where(F.col(STATUS) == QUARANTINED).select(
        F.lit(source).alias("source"),
        F.lit(batch_id).alias("batch_id"),
        F.lit(run_id).alias("run_id"),
        reason(F.col(PROBLEMS)).alias("reason"),
        detail(F.col(PROBLEMS)).alias("detail"),
        F.col(RAW_RECORD).alias("raw_record"),
        F.lit(at).alias("quarantined_at"),
    )
