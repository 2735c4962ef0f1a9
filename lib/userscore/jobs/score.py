"""Score snapshot D in one fused pass and write the score, tag and audience tables.

Parameters:
  --as-of D          snapshot date YYYY-MM-DD of features.user_features to score, or ``latest``
  --scored-at TS     logical scoring time written to every row, YYYY-MM-DD[THH:MM:SS] UTC (default:
                     max(D 00:00, newest champion registration), so re-running D gives identical rows)
  --show-examples    print three users' scores, tags and reasons in the summary (personal data: off by
                     default, so job logs hold no per-user rows)

Loads ``<models.tracking.model_prefix><target>@<models.promotion.alias>`` for every target of
scoring.targets (exit 2 naming a missing one unless the target is optional), reads the features
partition D once and computes every score, tier, reason and tag in one plan; writes
scores.user_scores (replaceWhere as_of_date = D), tags.user_tag_wide (MERGE by user_id, Change Data
Feed on) and audiences.segment_members / audiences.excluded_members (replaceWhere as_of_date = D; users without
the consent that consent.required.audiences lists are excluded, with the reason). Exit 2 before any write on a
missing champion, a missing or empty features partition, or missing feature columns.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.jobs.arguments import parse_date
from userscore.runner import JobContext

HELP = "score snapshot D: all champions, tiers, value score, grade, reasons, tags and audiences in one pass"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, help="snapshot date YYYY-MM-DD, or 'latest'")
    parser.add_argument("--scored-at", help="logical scoring time YYYY-MM-DD[THH:MM:SS] UTC")
    parser.add_argument(
        "--show-examples", action="store_true", help="print three users' rows in the summary (personal data)"
    )


def _timestamp(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--scored-at: a UTC time YYYY-MM-DD[THH:MM:SS], got {text!r}") from None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.scoring.pipeline import latest_snapshot, score_snapshot, summary_lines
    from userscore.tags import load_dictionary

    scoring = ctx.config.scoring
    if not scoring.targets:
        raise InputError("no targets to score: scoring.targets is empty in conf")
    scored_at = _timestamp(ctx.args.scored_at)
    as_of = (
        None if ctx.args.as_of == "latest" else parse_date("--as-of", ctx.args.as_of, "a date YYYY-MM-DD or 'latest'")
    )
    if as_of is None:
        as_of = latest_snapshot(ctx.catalog, scoring.features_table)
    with ctx.stage("score"):
        outcome = score_snapshot(ctx.catalog, ctx.config, as_of, scored_at, ctx.logger, ctx.args.show_examples)
    return summary_lines(outcome, scoring, load_dictionary(ctx.config.tags))
