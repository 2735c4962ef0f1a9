"""Monitor snapshot D: score ladder, drift (PSI), realised accuracy of matured snapshots, alerts and an HTML report.

Parameters:
  --as-of D          monitored snapshot (YYYY-MM-DD); default: the newest as_of_date of the scores table
  --fail-on-alert    exit with code 3 when any alert fires (after writing everything), for schedulers
  --report PATH      where the HTML report goes (default: <monitor.report.dir>/monitor-<D>.html)
  --no-mlflow        do not log the report and headline metrics to MLflow

Reads scores.user_scores (D, the previous snapshot, history), features.user_features (D, previous, the
champions' validation snapshots), silver orders/events/level changes (labels of matured snapshots) and the
champions' MLflow runs. Writes monitor.score_ladder, monitor.drift, monitor.accuracy, monitor.alerts (one
partition as_of_date = D each, replaceWhere) and monitor.reference (once per champion version).
Exit code 2, nothing written, when the scores partition D is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from userscore.errors import UserscoreError
from userscore.jobs.arguments import iso_date
from userscore.runner import JobContext

HELP = "score ladder, PSI drift, realised accuracy, alerts -> monitor.* tables and an HTML report"


class AlertsFired(UserscoreError):
    """--fail-on-alert and at least one alert fired (everything was written)."""

    exit_code = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, metavar="D", help="monitored snapshot date (default: newest scored)")
    parser.add_argument("--fail-on-alert", action="store_true", help="exit 3 when an alert fires")
    parser.add_argument("--report", metavar="PATH", help="HTML report path (default: monitor.report.dir)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.monitoring import monitor_snapshot, summary_lines

    args = ctx.args
    outcome = monitor_snapshot(
        ctx.catalog,
        ctx.config,
        args.as_of,
        report_path=Path(args.report) if args.report else None,
        log_to_mlflow=not args.no_mlflow,
        logger=ctx.logger,
        stage=ctx.stage,
    )
    lines = summary_lines(outcome)
    if args.fail_on_alert and outcome.alerts:
        print("\n".join(lines), flush=True)
        raise AlertsFired(f"{len(outcome.alerts)} alert(s) fired for {outcome.as_of} (--fail-on-alert)")
    return lines
