"""Erase data subjects everywhere: every table that declares subject columns, then the raw landing zone.

For each table holding subjects (config ``tables``: subject_columns / subject_json_columns; rows keyed by person,
identity.resolve, also by their ``member_user_ids``), in name order:
1. count the rows of each pending request's subjects (one scan; only per-request counts reach the driver);
2. if any, delete them with one MERGE (the commit holds the match condition, not the ids) and purge:
   REORG ... APPLY (PURGE) when deletion vectors are on, then VACUUM with privacy.erasure's retention.
Then the raw files holding a subject are rewritten without them (or kept, by config, with the reason),
and ops.erasure_log gets one row per request and target, written LAST with the request's completion row:
a crash before leaves the request pending and a re-run redoes it (deletes are idempotent; its counts
are then those of what was left). A completed request id is skipped, and nothing is written for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.config.tables import TableSpec
from userscore.persons import member_columns
from userscore.privacy.log import (
    LOG_TABLE,
    RAW_KEPT,
    RAW_REWRITTEN,
    REQUEST_KIND,
    TABLE_KIND,
    LogEntry,
    completed,
    log_rows,
    subject_hashes,
)
from userscore.privacy.matching import REQUEST, match_condition, matched_requests, subject_owner, subjects_frame
from userscore.privacy.raw import erase_raw
from userscore.privacy.requests import ErasureRequest


@dataclass(frozen=True)
class ErasureResult:
    pending: tuple[ErasureRequest, ...]
    entries: tuple[LogEntry, ...]
    messages: tuple[str, ...]
    writes: tuple[WriteResult, ...] = ()

    def summary(self) -> list[str]:
        lines = list(self.messages)
        for request in self.pending:
            mine = [e for e in self.entries if e.request_id == request.request_id]
            tables = {e.target: e.rows_removed for e in mine if e.kind == TABLE_KIND and e.rows_removed}
            raw = [e for e in mine if e.kind in (RAW_REWRITTEN, RAW_KEPT)]
            lines.append(
                f"request {request.request_id}: {len(request.user_ids)} user id(s); "
                f"{sum(tables.values()):,} rows from {len(tables)} tables "
                + (", ".join(f"{t} {n:,}" for t, n in sorted(tables.items())) or "(none)")
                + f"; raw files {sum(e.kind == RAW_REWRITTEN for e in raw)} rewritten, "
                f"{sum(e.kind == RAW_KEPT for e in raw)} kept"
            )
        return lines


def subject_tables(config: Config) -> list[str]:
    return sorted(name for name, spec in config.tables.items() if spec.holds_subjects)


def forget(
    catalog: Catalog,
    config: Config,
    requests: Sequence[ErasureRequest],
    *,
    key: bytes,
    run_id: str,
    now: dt.datetime | None = None,
    logger: logging.Logger | None = None,
) -> ErasureResult:
    """Erase the subjects of every request not yet completed (see the module docstring)."""
    logger = logger or logging.getLogger("userscore.privacy")
    erasure = config.privacy.erasure
    done = completed(catalog)
    messages = [
        f"request {r.request_id} already completed at {done[r.request_id]:%Y-%m-%dT%H:%M:%S}; skipped"
        for r in requests
        if r.request_id in done
    ]
    pending = tuple(r for r in requests if r.request_id not in done)
    if not pending:
        return ErasureResult((), (), (*messages, "nothing to erase: every request is already completed"))

    owner = subject_owner(pending)
    hashes = {r.request_id: subject_hashes(r.user_ids, key) for r in pending}
    subjects = subjects_frame(catalog.spark, owner)
    entries: list[LogEntry] = []
    writes: list[WriteResult] = []
    for name in subject_tables(config):
        if not catalog.exists(name):
            continue
        spec = catalog.spec(name)
        rows = catalog.read(name)
        arrays = member_columns(rows)  # rows keyed by person go with any of their members
        counts = _count(rows, spec, owner, arrays)
        detail = None
        if counts:
            writes.append(catalog.delete_matching(name, subjects, match_condition(spec, arrays)))
            detail = catalog.purge(name, erasure.vacuum_retention_hours)
        entries += [
            LogEntry(r.request_id, TABLE_KIND, name, counts.get(r.request_id, 0), hashes[r.request_id], detail)
            for r in pending
        ]
        logger.info("erased %s: %s", name, dict(counts) or "no rows")

    raw = erase_raw(
        config.path(config.ingest.raw_dir), config.ingest, config.tables, owner, rewrite=erasure.raw_files == "rewrite"
    )
    for f in raw.files:
        for request_id, records in sorted(f.records.items()):
            if f.rewritten:
                entries.append(LogEntry(request_id, RAW_REWRITTEN, f.path, records, hashes[request_id], None))
            else:
                entries.append(LogEntry(request_id, RAW_KEPT, f.path, 0, hashes[request_id], erasure.keep_reason))
    if raw.skipped_sources:
        messages.append(f"raw sources not scanned (Delta landing): {list(raw.skipped_sources)}")

    entries += [
        LogEntry(
            r.request_id,
            REQUEST_KIND,
            "*",
            sum(e.rows_removed for e in entries if e.request_id == r.request_id and e.kind == TABLE_KIND),
            hashes[r.request_id],
            f"vacuum_retention_hours={erasure.vacuum_retention_hours}, raw_files={erasure.raw_files}",
        )
        for r in pending
    ]
    at = now or dt.datetime.now(dt.UTC)
    writes.append(catalog.merge(LOG_TABLE, log_rows(catalog.spark, entries, run_id, at)))
    return ErasureResult(pending, tuple(entries), tuple(messages), tuple(writes))


def _count(table: DataFrame, spec: TableSpec, owner, arrays: Sequence[str]) -> Counter:
    """Rows of each request's subjects in ``table`` (a row matching two requests counts for both)."""
    rows = (
        table.select(F.explode(matched_requests(spec, owner, arrays)).alias(REQUEST)).groupBy(REQUEST).count().collect()
    )
    return Counter({r[REQUEST]: int(r["count"]) for r in rows})
