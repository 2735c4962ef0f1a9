"""The registered userscore models: list them, or validate, promote or roll back a version without retraining.

Actions (default: list):
  list                              every version, its aliases (champion), key validation metrics and verdict
  validate --target T [--version N] apply the promotion gate (models.promotion) to version N's logged
                                    evaluation (default: the newest) and record the verdict on the version
  promote  --target T [--version N] move the champion alias (models.promotion.alias) to version N (default: the
                                    newest); refused, exit code 2, unless its recorded verdict passed
  rollback --target T               move the champion alias back to the version it replaced (recorded)

T is a target of models.targets (model <models.tracking.model_prefix>T) or ``btyd`` (btyd.model_name; its
versions are gated when fitted, so promote and rollback only). Reads and writes only the MLflow registry of
models.tracking; needs no Spark session; a missing local store is not created.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.runner import JobContext

HELP = "list registered models, or validate / promote / roll back a version (MLflow registry)"
ACTIONS = ("list", "validate", "promote", "rollback")
BTYD = "btyd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=ACTIONS, help="what to do (default: list)")
    parser.add_argument("--target", metavar="T", help="the target whose model to validate, promote or roll back")
    parser.add_argument("--version", metavar="N", help="the registered version (default: the newest)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.models import lifecycle
    from userscore.models.registry import format_table, list_records
    from userscore.models.tracking import reader, store_of

    args, config = ctx.args, ctx.config
    model_name = _model_name(ctx)
    store = store_of(config)
    client = reader(store)
    if args.action == "list":
        records = list_records(client, config.models.tracking.model_prefix) if client is not None else []
        if not records:
            return [f"no registered models named {config.models.tracking.model_prefix}* in {store.uri}"]
        return [*format_table(records), *store.pointer_lines()]
    if client is None:
        raise InputError(f"no MLflow store at {store.registry}: train a model first (`userscore train --target ...`)")
    alias = config.models.promotion.alias
    if args.action == "validate":
        record, decision = lifecycle.validate(client, model_name, args.version, config.models.promotion, alias)
        return [f"{model_name} v{record.version} (run {record.run_id}): {decision}"]
    if args.action == "promote":
        return [str(lifecycle.promote(client, model_name, args.version, alias))]
    return [str(lifecycle.rollback(client, model_name, alias))]


def _model_name(ctx: JobContext) -> str:
    """The registered model the action is about, after checking the arguments (before any MLflow call)."""
    args, config = ctx.args, ctx.config
    if args.action == "list":
        if args.target or args.version:
            raise InputError("list takes no --target or --version")
        return ""
    targets = sorted(config.models.targets)
    if not args.target:
        raise InputError(f"{args.action} needs --target T (targets: {targets} or {BTYD})")
    if args.action == "rollback" and args.version:
        raise InputError("rollback takes no --version: it returns to the champion the current one replaced")
    if args.version is not None and not args.version.isdigit():
        raise InputError(f"--version: a version number, got {args.version!r}")
    if args.target == BTYD:
        if args.action == "validate":
            raise InputError("btyd versions are gated when fitted (`userscore btyd`): promote or rollback only")
        return config.btyd.model_name
    if args.target not in config.models.targets:
        raise InputError(f"unknown target {args.target!r}: defined in conf (models.targets) are {targets}")
    return f"{config.models.tracking.model_prefix}{args.target}"
