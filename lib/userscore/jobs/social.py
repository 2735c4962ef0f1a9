"""Measure the social network at D: social.user_social, social.communities, social.community_members,
social.kols.

Parameters:
  --as-of D                       run date (YYYY-MM-DD): the users registered before D, the edges and orders
                                  before D
  --from D1 --to D2 [--every Nd]  a run per date D1, D1 + N days, ... up to D2 inclusive (default every 7d):
                                  the feature snapshots' social family reads the run at each snapshot date

Per user: weighted PageRank influence (edge weights and directions in conf/base/social.yaml), its
percentile, in/out degree, followers, 2-hop reach (HyperLogLog estimate), invitees and their first orders,
orders that followed a share, community (label propagation) with its size and spend, the kol and
community_hub flags. Each table's partition as_of_date = D is replaced (re-running D gives the same rows).
Exit 2, nothing written, when an input table is missing or no user was registered before the first date.
docs/social.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.jobs.arguments import add_date_arguments, run_dates
from userscore.runner import JobContext

HELP = "influence, reach, communities and KOLs of the social network at D (social.*)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_date_arguments(parser, "run (edges before it)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.social.pipeline import run_social, summary_lines

    # In date order: the first run checks the inputs (userscore.social.pipeline.check_inputs) before any write.
    outcomes = []
    for as_of in run_dates(ctx.args):
        with ctx.stage(f"social {as_of}"):
            outcomes.append(run_social(ctx.catalog, ctx.config, as_of))
    return summary_lines(outcomes, ctx.config)
