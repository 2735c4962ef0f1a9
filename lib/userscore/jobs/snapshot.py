"""Materialise the look-up API's snapshot from the tag wide table and publish it (after `score`).

Parameters:
  --as-of D   the scoring date whose segment members are served, YYYY-MM-DD or ``latest`` (default: the
              newest as_of_date in the wide table)

Reads tags.user_tag_wide at its current version, audiences.segment_members of D and the wide table's Change
Data Feed over its last serving.snapshot.changes_versions versions; Spark tasks write
serving.snapshot.shards SQLite shards into <serving.snapshot.root>/versions/<id>/, then the manifest, then
CURRENT is replaced atomically (a running `userscore serve` switches within serving.api.reload_seconds) and
folders replaced more than serving.snapshot.grace_minutes ago are deleted. Exit 2 before any write when the
wide table is missing or empty, or no wide row comes from D.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.jobs.arguments import parse_date
from userscore.runner import JobContext

HELP = "publish the look-up API's snapshot (users, segments, changes) of the wide table, after score"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", default="latest", help="scoring date YYYY-MM-DD of the segments, or 'latest'")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.serving.build import build_snapshot, summary_lines

    text = ctx.args.as_of
    as_of = None if text == "latest" else parse_date("--as-of", text, "a date YYYY-MM-DD or 'latest'")
    with ctx.stage("snapshot"):
        outcome = build_snapshot(ctx.catalog, ctx.config, as_of, logger=ctx.logger)
    return summary_lines(outcome)
