"""Fit the buy-till-you-die models at snapshot D: BTYD summary, BG/NBD + Gamma-Gamma fit, MLflow, champion gate.

Parameters:
  --as-of D        the snapshot date (YYYY-MM-DD): orders with order_ts < D 00:00 UTC are observed
  --no-register    fit and write the summary, but log nothing to MLflow (dry run of the numbers)

Reads btyd.orders_table (silver.orders). Writes btyd.summary_table (features.btyd_summary), replacing exactly
its partition as_of_date = D, with one row per customer who bought before D (x, t_x_days, t_cal_days, m_x);
with identity.resolve, one per person (userscore.persons: the identity run at or before D).
The driver receives only the distinct (x, t_x, T) groups (t_x and T rounded to btyd.fit_resolution_days, by
default one time unit) and (x, m_x) groups. Then logs one MLflow run (parameters, log-likelihoods,
diagnostics, spend backtest) to the store of models.tracking, registers the pyfunc as btyd.model_name and
moves models.promotion.alias (champion) to it when the gate (btyd.gate: in-sample repeat purchases, spend
backtest from D - btyd.gate.spend_holdout_days; docs/btyd.md) passes (`userscore models rollback --target
btyd` moves it back). Exit code 2, before
anything is written, on a missing orders table, no purchases before D or a fit that does not converge.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from userscore.errors import InputError
from userscore.jobs.arguments import iso_date
from userscore.persons import keyed_at
from userscore.runner import JobContext

HELP = "fit BG/NBD + Gamma-Gamma at a snapshot: features.btyd_summary, MLflow run, userscore-btyd@champion"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, metavar="D", required=True, help="snapshot date (YYYY-MM-DD)")
    parser.add_argument("--no-register", action="store_true", help="skip MLflow logging and registration")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.btyd.tracking import log_and_register
    from userscore.btyd.workflow import AS_OF, btyd_snapshot, summary_lines
    from userscore.models.tracking import store_of

    args, config = ctx.args, ctx.config
    btyd = config.btyd
    catalog = ctx.catalog
    if not catalog.exists(btyd.orders_table):
        raise InputError(
            f"{btyd.orders_table} does not exist at {catalog.location(btyd.orders_table)}: run ingest first"
        )
    orders = keyed_at(catalog, config.identity, catalog.read(btyd.orders_table), args.as_of)
    catalog.prepare(btyd.summary_table)
    with ctx.stage("summary + fit"), btyd_snapshot(orders, args.as_of, btyd) as snap:
        lines = summary_lines(snap)
        with ctx.stage("write summary"):
            catalog.overwrite_where(btyd.summary_table, snap.summary, {AS_OF: args.as_of})
    if args.no_register:
        return [*lines, "MLflow: skipped (--no-register)"]
    store = store_of(config)
    alias = config.models.promotion.alias
    with ctx.stage("mlflow"):
        registered = log_and_register(snap.fit, snap.spend, btyd, store, alias, Path(config.root))
    return [
        *lines,
        f"{registered.model_name} v{registered.version} (run {registered.run_id}): {registered.decision}",
        f"previous {alias}: {'v' + registered.previous_champion if registered.previous_champion else 'none'}",
        *store.pointer_lines(),
    ]
