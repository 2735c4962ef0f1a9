"""Validate landed raw batches into the silver tables, with quarantine, deduplication and PII hashing.

Parameters:
  --batch ID        ingest this batch only (default: every landed batch not yet recorded complete in
                    ops.ingest_audit, oldest first)
  --source S ...    ingest only these sources (default: all of ingest.sources, in config order, except
                    ingest.absent_sources, whose silver tables are created empty)
  --force           re-ingest batches already recorded complete (replaces exactly their rows)
  --now TIMESTAMP   reference time for the future-timestamp check, ISO-8601 (default: now, UTC)

Needs the PII key in the environment variable named by ingest.pii_key_env. Writes silver.<source tables>,
silver.quarantine, then ops.ingest_audit (last: a batch is complete only once its audit rows exist).
Exit code 2, with nothing written, on bad config, missing raw input or a missing PII key; a batch whose
counts do not reconcile (read = accepted + quarantined + duplicates) fails before any write.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.ingest import ingest, plan_ingest
from userscore.runner import JobContext

HELP = "validate raw batches into silver tables (quarantine, dedupe, PII hashing, reconciliation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", help="batch id to ingest (default: every pending landed batch)")
    parser.add_argument("--source", nargs="+", action="extend", metavar="S", help="sources to ingest (default: all)")
    parser.add_argument("--force", action="store_true", help="re-ingest batches already recorded complete")
    parser.add_argument("--now", help="reference time, ISO-8601 (default: current UTC time)")


def reference_time(text: str | None) -> dt.datetime:
    """``--now`` as an aware UTC datetime (a value without zone is UTC)."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--now: an ISO-8601 timestamp such as 2026-01-01T00:00:00Z, got {text!r}") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def run(ctx: JobContext) -> Sequence[str]:
    args, config = ctx.args, ctx.config
    now = reference_time(args.now)
    raw_dir = config.path(config.ingest.raw_dir)
    with ctx.stage("plan"):
        plan = plan_ingest(ctx.catalog, config.ingest, raw_dir, sources=args.source, batch=args.batch, force=args.force)
    results = ingest(
        ctx.catalog, config.ingest, raw_dir, plan, now=now, run_id=ctx.run_id, stage=ctx.stage, logger=ctx.logger
    )
    lines = [f"reference time {now:%Y-%m-%dT%H:%M:%SZ}, raw {raw_dir}", *plan.messages]
    if config.ingest.absent_sources:
        absent = ", ".join(config.ingest.absent_sources)
        lines.append(f"absent sources (ingest.absent_sources), silver tables kept empty: {absent}")
    for result in results:
        lines += result.summary()
    return lines
