"""Measure the social network at D: social.user_social, social.communities, social.community_members,
social.kols.

Parameters:
  --as-of D   run date (YYYY-MM-DD): the users registered before D, the edges and orders before D

Per user: weighted PageRank influence (edge weights and directions in conf/base/social.yaml), its
percentile, in/out degree, followers, 2-hop reach (HyperLogLog estimate), invitees and their first orders,
orders that followed a share, community (label propagation) with its size and spend, the kol and
community_hub flags. Each table's partition as_of_date = D is replaced (re-running D gives the same rows).
Exit 2, nothing written, when an input table is missing or no user was registered before D. docs/social.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.jobs.arguments import iso_date
from userscore.runner import JobContext

HELP = "influence, reach, communities and KOLs of the social network at D (social.*)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, required=True, metavar="D", help="run date (edges before D)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.social.pipeline import run_social, summary_lines

    with ctx.stage("social"):
        outcome = run_social(ctx.catalog, ctx.config, ctx.args.as_of)
    return summary_lines(outcome, ctx.config)
