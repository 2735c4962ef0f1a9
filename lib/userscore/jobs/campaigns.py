"""Measure campaigns at D: lift of the treated over the control users, per campaign and cell, and a report.

Parameters:
  --as-of D        outcomes known before D 00:00 UTC count; the campaigns whose first send is in
                   [D - campaigns.lookback_days, D) are measured (a window still open at D: so far)
  --report PATH    where the HTML report goes (default: <campaigns.report_dir>/campaigns-<D>.html)

Reads silver.campaign_sends, silver.campaign_responses, silver.orders (conversions: non-refunded orders in
(sent_at, sent_at + the type's window_days]), silver.events (the type's conversion_events) and
scores.user_scores (the score breakdowns, at each campaign's latest scored date at or before its first send).
Writes campaigns.lift, replacing exactly its rows as_of_date = D: per campaign, breakdown and cell, treated
and control users, response and conversion rates, revenue per user, absolute and relative lift with
confidence intervals (two-proportion, Welch, bootstrap), incremental conversions, revenue and margin,
cost and ROI; and campaigns.ranking: how well each numeric score at the send ranks each readable
campaign's uplift (Qini coefficient, uplift AUC, uplift at k). A campaign with an empty, too small or
contaminated control group is unreadable (the reason is written; no lift is). And campaigns.recommendations
(replaceWhere as_of_date = D): per campaign type with an uplift model scored in the latest scores at or
before D, for every audience share of its users ranked by <type>_uplift, the expected incremental
conversions, margin, contact cost and net margin, the best share flagged. Exit code 2, before anything is
written, when sends, responses or orders are missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from userscore.jobs.arguments import iso_date
from userscore.runner import JobContext

HELP = (
    "measure campaigns at D: lift vs control with intervals, ROI -> campaigns.lift and an HTML report; "
    "how many users to contact next -> campaigns.recommendations"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, metavar="D", required=True, help="measurement date (YYYY-MM-DD)")
    parser.add_argument("--report", metavar="PATH", help="HTML report path (default: campaigns.report_dir)")


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.campaigns.pipeline import measure_campaigns
    from userscore.campaigns.summary import summary_lines

    args = ctx.args
    reading = measure_campaigns(
        ctx.catalog, ctx.config, args.as_of, Path(args.report) if args.report else None, ctx.stage
    )
    cfg = ctx.config.campaigns
    return summary_lines(reading, cfg.lift_table, cfg.ranking_table, cfg.recommendations.table)
