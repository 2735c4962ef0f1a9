"""Train each campaign type's uplift model on its earlier campaigns and judge it on the latest one, out of
time; log it to MLflow, register it, gate it and promote it when it passes.

Parameters:
  --type T ...     campaign types to train (campaigns.types entries with an uplift block; repeatable)
  --all            every campaign type with an uplift block
  --cutoff DATE    data is complete up to DATE 00:00 UTC: only campaigns whose every attribution window
                   ended by then are used (default: the day of the newest order or event in silver)

Per type: the users of its campaigns (silver.campaign_sends), their conversions in the type's window
(silver.orders, silver.events) and the feature snapshot at each send (features.user_features). The latest
campaign with both arms of at least campaigns.min_group_size users is held out; the campaigns before it
train a T-learner (one GBT per arm, the served model) and a class-transformation baseline. On the held-out
campaign the model, the baseline, a random order and the propensity champions (campaigns.uplift.propensity)
are ranked by Qini coefficient, uplift AUC, uplift at k and uplift by decile; the gate promotes the model
when its Qini beats random (campaigns.uplift.gate) and does not trail the current champion.
Registers <models.tracking.model_prefix><type>_uplift and writes campaigns.uplift_validation (the held-out
users' rankings, replaced per type). Exit code 2, before any training or write, on an unknown type, a
missing table or, for a type named with --type, no campaign to hold out (with --all such a type is
reported as not trained: campaigns that have not come back yet are no failure).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.jobs.arguments import parse_date
from userscore.runner import JobContext

HELP = "train, judge (Qini vs random, baseline, propensity), register and gate uplift models per campaign type"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", nargs="+", action="extend", default=[], metavar="T", help="campaign types to train")
    parser.add_argument("--all", action="store_true", help="every campaign type with an uplift block")
    parser.add_argument("--cutoff", help="data complete up to this date, YYYY-MM-DD (default: newest event in silver)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.uplift.workflow import summary_lines, train_uplift

    args, modelled = ctx.args, ctx.config.campaigns.uplift_types
    if args.all == bool(args.type):
        raise InputError(f"give --type T ... or --all (types with an uplift model: {list(modelled)})")
    types = list(modelled) if args.all else list(dict.fromkeys(args.type))
    cutoff = None if args.cutoff is None else parse_date("--cutoff", args.cutoff)
    with ctx.stage("uplift"):
        outcome = train_uplift(ctx.catalog, ctx.config, types, cutoff, ctx.logger, required=not args.all)
    return summary_lines(outcome)
