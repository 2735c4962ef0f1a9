"""ops.erasure_log: what each erasure request removed, keyed by request, never with an identifier in
clear (subjects appear as HMAC-SHA256 of the user id with the PII key)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.catalog import Catalog

LOG_TABLE = "ops.erasure_log"
REQUEST_KIND = "request"  # the row that marks a request complete; written with the rest, last
TABLE_KIND = "table"
RAW_REWRITTEN = "raw_rewritten"
RAW_KEPT = "raw_kept"


@dataclass(frozen=True)
class LogEntry:
    request_id: str
    kind: str
    target: str
    rows_removed: int
    subject_hashes: str
    detail: str | None = None


def subject_hash(user_id: str, key: bytes) -> str:
    """Hex HMAC-SHA256 of the user id's UTF-8 bytes."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_hashes(user_ids: Sequence[str], key: bytes) -> str:
    return ",".join(sorted(subject_hash(u, key) for u in user_ids))


def completed(catalog: Catalog) -> dict[str, dt.datetime]:
    """request id -> when it completed (bounded by the number of requests ever made)."""
    if not catalog.exists(LOG_TABLE):
        return {}
    rows = catalog.read(LOG_TABLE, F.col("kind") == REQUEST_KIND).select("request_id", "erased_at").collect()
    return {r["request_id"]: r["erased_at"] for r in rows}


def log_rows(spark: SparkSession, entries: Sequence[LogEntry], run_id: str, at: dt.datetime) -> DataFrame:
    schema = (
        "request_id string, kind string, target string, rows_removed long, subject_hashes string, detail string, "
        "run_id string, erased_at timestamp"
    )
    return spark.createDataFrame(
        [(e.request_id, e.kind, e.target, e.rows_removed, e.subject_hashes, e.detail, run_id, at) for e in entries],
        schema,
    )
