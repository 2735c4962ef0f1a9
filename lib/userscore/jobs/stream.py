"""Rescore users in near real time: ingest landed files as they arrive and MERGE the touched users' scores.

Parameters:
  --available-now   process every file landed so far (in micro-batches), then stop: the catch-up run
                    (default: stream.trigger.mode; processing_time runs a micro-batch every
                    stream.trigger.interval_seconds until stopped)
  --now TIMESTAMP   a fixed reference time for every micro-batch, ISO-8601 (default: the clock; replaying a
                    generated world's days)
  --timeout S       stop after S seconds (default: run until the query ends or the job is cancelled)

Watches the raw folders of stream.sources. The folders a micro-batch sees are ingested as one batch with
the batch ingest's code (silver, silver.quarantine, ops.ingest_audit); the users of its rows are rescored as
of the end of the reference day against the latest published snapshot's population figures (features.rfm_boundaries,
features.population_stats) with the champions at the promotion alias (reloaded when the alias moves), and
MERGEd into stream.live_table and the tag wide table; one row per micro-batch goes to stream.progress_table,
and the look-up API's snapshot is republished every stream.snapshot_refresh_minutes. Progress is checkpointed
at stream.checkpoint: a restart resumes where the last committed micro-batch ended. Exit 2 before the query
starts on a missing raw folder, PII key, published snapshot or champion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import threading
import time
from collections.abc import Sequence

from userscore.jobs.ingest import reference_time
from userscore.runner import JobContext

HELP = "near-real-time rescoring: ingest landed files as they arrive and MERGE the touched users' scores"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--available-now", action="store_true", help="process what has landed, then stop")
    parser.add_argument("--now", help="fixed reference time, ISO-8601 (default: the clock)")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")


def await_stop(query, timeout: float | None) -> None:
    """Wait until the query ends (available now: all landed files done), ``timeout`` passes, or SIGINT/SIGTERM
    asks to stop; then stop it between micro-batches. The signal only sets a flag: the JVM call waiting in
    awaitTermination is never interrupted (py4j would turn that into an error)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if query.awaitTermination(1):
                return  # ended by itself; a failure raises here
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    query.stop()


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.catalog import Catalog
    from userscore.stream.query import checkpoint_location, prepare, start

    args, config = ctx.args, ctx.config
    fixed = reference_time(args.now) if args.now else None

    def clock() -> dt.datetime:
        return fixed or dt.datetime.now(dt.UTC)

    # A plain catalog: the job summary reports the stream's totals, not every MERGE of a long run.
    catalog = Catalog(ctx.spark, config, ctx.logger)
    with ctx.stage("prepare"):
        handler = prepare(catalog, config, clock, ctx.logger)
    available_now = args.available_now or config.stream.trigger.mode == "available_now"
    query = start(ctx.spark, config, handler, available_now)
    mode = "available now" if available_now else f"every {config.stream.trigger.interval_seconds:g} s"
    ctx.logger.info("stream started (%s), checkpoint %s", mode, checkpoint_location(config))
    await_stop(query, args.timeout)
    totals = handler.totals
    lines = [
        f"stream ({mode}): {totals.micro_batches} micro-batches, {len(set(totals.batches))} landed folders, "
        f"{totals.accepted:,} records accepted, {totals.quarantined:,} quarantined, "
        f"{totals.users_rescored:,} user rescorings, {totals.wide_rows_changed:,} wide-table rows changed",
        *(f"  not ingested: {failure}" for failure in totals.failures),
        f"checkpoint: {checkpoint_location(config)}",
    ]
    for table in (config.stream.live_table, config.scoring.wide_table, config.stream.progress_table):
        lines.append(f"  {table:<26} {catalog.location(table)}")
    return lines
