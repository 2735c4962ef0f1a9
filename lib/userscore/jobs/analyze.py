"""Analyse snapshot D: funnels, behaviour paths, profile, consumption and interests -> analysis.* tables
and one self-contained HTML report.

Parameters:
  --as-of D       analysed snapshot (YYYY-MM-DD); its scores and features partitions must exist
  --report PATH   where the HTML report goes (default: <analysis.report_dir>/analysis-<D>.html)

Reads silver events (the look-back before D, at most analysis.max_events_per_user per user: bots are
capped and counted), orders and users before D, and partition D of scores.user_scores,
features.user_features and audiences.segment_members. Writes every analysis.* table the analyses declare
(one partition as_of_date = D each, replaceWhere). Exit code 2, nothing written, when an input table or
the scores or features partition D is missing, or an analysis's output does not match its declared table.
Every analysis is declared in YAML: conf/base/analysis*.yaml; docs/analysis.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from userscore.jobs.arguments import iso_date
from userscore.runner import JobContext

HELP = "funnels, paths, profile, consumption, interests -> analysis.* tables and an HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, required=True, metavar="D", help="analysed snapshot date")
    parser.add_argument("--report", metavar="PATH", help="HTML report path (default: analysis.report_dir)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.analysis.pipeline import analyse_snapshot, summary_lines

    args = ctx.args
    outcome = analyse_snapshot(
        ctx.catalog,
        ctx.config,
        args.as_of,
        report_path=Path(args.report) if args.report else None,
        logger=ctx.logger,
        stage=ctx.stage,
    )
    return summary_lines(outcome)
