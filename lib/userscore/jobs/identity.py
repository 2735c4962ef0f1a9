"""Stitch user ids into persons at D: identity.person_map, identity.dropped_links, identity.person_changes.

Parameters:
  --as-of D   run date (YYYY-MM-DD): the user ids registered before D, the links made before D

Nodes are identifier values (type + value; contact data as the keyed hashes ingest wrote), edges join a user
id to its identity links (silver.identity_links) and profile identifiers (silver.users); persons are the
connected components after the merge protection of conf/base/identity.yaml (shared values, per-person
limits by priority, the largest person), every dropped link written with its reason. A person keeps its id
while it keeps the majority of its user ids; what changed since the previous run is in
identity.person_changes. Each table's partition as_of_date = D is replaced (re-running D gives the same rows).
Exit 2, nothing written, when an input table is missing or no user id was registered before D.
docs/identity.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.jobs.arguments import iso_date
from userscore.runner import JobContext

HELP = "stitch user ids into persons (identity.person_map) with merge protection"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, required=True, metavar="D", help="run date (links before D)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.identity.pipeline import run_identity, summary_lines

    with ctx.stage("identity"):
        outcome = run_identity(ctx.catalog, ctx.config, ctx.args.as_of)
    return summary_lines(outcome, ctx.config)
