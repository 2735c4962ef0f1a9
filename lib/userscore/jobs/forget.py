"""Erase data subjects (right to be forgotten): every table, the raw landing zone, Delta history.

Parameters:
  --request-file F  CSV with header ``request_id,user_id``: one row per user id of a request (a person
                    known under several ids has several rows with the same request_id)

Deletes the subjects' rows from every table that declares subject columns (conf/base/tables_*.yaml),
purges the deleted files (REORG ... APPLY (PURGE) when deletion vectors are on, VACUUM with
privacy.erasure.vacuum_retention_hours), rewrites the raw files holding them (or keeps them, by
privacy.erasure.raw_files), then records per request and target the rows removed in ops.erasure_log,
with keyed hashes instead of user ids (needs the PII key of ingest.pii_key_env). A published look-up API
snapshot is rebuilt from the cleaned tables and the older ones deleted at once (docs/serving.md). A request id already
completed is skipped and nothing is written for it. Exit code 2, with nothing written, on a missing or
malformed request file or a missing PII key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from userscore.ingest.pii import pii_key
from userscore.privacy import forget, read_requests
from userscore.runner import JobContext
from userscore.serving.build import republish_after_erasure

HELP = "erase users (right to be forgotten) from every table, raw files and Delta history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request-file", required=True, help="CSV with columns request_id,user_id")


def run(ctx: JobContext) -> Sequence[str]:
    config = ctx.config
    # Both checks come before the session: a bad file or a missing key writes nothing.
    requests = read_requests(Path(ctx.args.request_file))
    key = pii_key(config.ingest.pii_key_env)
    with ctx.stage("erase"):
        result = forget(ctx.catalog, config, requests, key=key, run_id=ctx.run_id, logger=ctx.logger)
    lines = [f"{len(requests)} request(s) in {ctx.args.request_file}", *result.summary()]
    if result.pending:
        # The look-up API's snapshot is a copy outside Delta: it must not keep serving an erased user.
        with ctx.stage("look-up snapshot"):
            lines += republish_after_erasure(ctx.catalog, config, ctx.logger)
    return lines
