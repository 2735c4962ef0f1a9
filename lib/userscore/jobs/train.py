"""Train targets: labels from silver over (D, D + horizon], GBT + LR baseline + calibration, validation
metrics and plots, one MLflow run per target and a registered version; then the same steps as
`userscore models validate` (the champion gate, verdict recorded on the version) and `userscore models
promote` when the gate passes.

Parameters:
  --target T ...   targets to train, as named in models.targets (repeatable)
  --all            train every target in models.targets
  --cutoff DATE    data is complete up to DATE 00:00 UTC; snapshots with D + horizon after it are not used
                   (default: the newest order or event time in silver)

Reads features.user_features and the silver tables the targets' rules need; writes no table. Logs to the
MLflow store of models.tracking (default: sqlite:///<project>/mlflow.db, artifacts in <project>/mlruns),
registers userscore-<target> and moves the champion alias when the gate passes. Exit code 2, before any
training, on an unknown target, a missing input table or too few matured snapshots.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.jobs.arguments import parse_date
from userscore.runner import JobContext

HELP = "train, evaluate, register and gate models for targets (GBT + LR baseline + calibration, MLflow)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", nargs="+", action="extend", default=[], metavar="T", help="targets to train")
    parser.add_argument("--all", action="store_true", help="train every target in models.targets")
    parser.add_argument("--cutoff", help="data complete up to this date, YYYY-MM-DD (default: newest event in silver)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.models.workflow import summary_lines, train_targets

    args, models = ctx.args, ctx.config.models
    if args.all == bool(args.target):
        raise InputError(f"give --target T ... or --all (targets: {sorted(models.targets)})")
    names = sorted(models.targets) if args.all else list(dict.fromkeys(args.target))
    unknown = [n for n in names if n not in models.targets]
    if unknown:
        raise InputError(f"unknown targets {unknown}: defined in conf (models.targets) are {sorted(models.targets)}")
    cutoff = None if args.cutoff is None else parse_date("--cutoff", args.cutoff)
    with ctx.stage("train"):
        outcome = train_targets(ctx.catalog, ctx.config, names, cutoff, ctx.logger)
    return summary_lines(outcome)
