"""Generate a synthetic user base: raw files for every source and the truth tables (latent traits, campaign effects).

Parameters (each overrides the ``generate`` section of the config):
  --users N         number of users (generate.users)
  --seed S          generator seed; the same seed and config give the same rows (generate.seed)
  --end-date D      end of the history, exclusive, YYYY-MM-DD (generate.end_date)
  --batch-id B      raw batch folder to (re)write (generate.batch_id)
  --bad-share X     share of deliberately bad raw records, e.g. 0.005 (generate.bad_record_share)

Writes ``<generate.raw_dir>/<source>/<batch_id>/`` for users, orders (JSON lines), events, level_changes,
social_edges, identity_links, consents, campaign_sends and campaign_responses (the rest Parquet), replacing an
existing batch folder; the late refunds (later versions of some orders) as the batch ``<batch_id>-late`` (records
for orders only); the batch manifest ``<generate.raw_dir>/_manifest/<batch_id>.json`` (records and injected bad
records per kind); and the rows of this batch in ``truth.user_traits`` (the hidden traits) and
``truth.campaign_effects`` (per send of the past campaigns of generate.campaigns: the hidden true uplift, the
incremental orders the contact added and whether it made the user leave). The summary has a line per campaign:
sends per arm, incremental orders, leavers.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

from userscore.errors import InputError
from userscore.generate import campaign_summary, generate_user_base, land_raw
from userscore.runner import JobContext

HELP = "generate a synthetic user base (raw files + truth.user_traits, truth.campaign_effects)"
TRUTH_TABLE = "truth.user_traits"
CAMPAIGN_TRUTH_TABLE = "truth.campaign_effects"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, help="number of users")
    parser.add_argument("--seed", type=int, help="generator seed")
    parser.add_argument("--end-date", type=dt.date.fromisoformat, help="end of history (exclusive), YYYY-MM-DD")
    parser.add_argument("--batch-id", help="raw batch id to write")
    parser.add_argument("--bad-share", type=float, help="share of bad raw records")


def config_overrides(args: argparse.Namespace) -> dict:
    pairs = {
        "users": args.users,
        "seed": args.seed,
        "end_date": args.end_date,
        "batch_id": args.batch_id,
        "bad_record_share": args.bad_share,
    }
    generate = {key: value for key, value in pairs.items() if value is not None}
    return {"generate": generate} if generate else {}


def run(ctx: JobContext) -> Sequence[str]:
    cfg = ctx.config.generate
    if not cfg.batch_id or "/" in cfg.batch_id or cfg.batch_id.startswith(("_", ".")):
        raise InputError(f"generate.batch_id: a plain folder name not starting with '_' or '.', got {cfg.batch_id!r}")
    ctx.catalog.spec(TRUTH_TABLE)
    ctx.catalog.spec(CAMPAIGN_TRUTH_TABLE)
    raw_dir = ctx.config.path(cfg.raw_dir)
    with ctx.stage("calibrate"):
        base = generate_user_base(ctx.spark, cfg)
    with base.cached():
        with ctx.stage("land raw files"):
            manifest = land_raw(base, cfg, raw_dir)
        with ctx.stage("write truth"):
            ctx.catalog.overwrite_where(TRUTH_TABLE, base.traits, {"batch_id": cfg.batch_id})
            ctx.catalog.overwrite_where(CAMPAIGN_TRUTH_TABLE, base.campaign_effects, {"batch_id": cfg.batch_id})
            campaigns = campaign_summary(base.campaign_effects)
    lines = [f"{cfg.users:,} users, seed {cfg.seed}, history until {cfg.end_date} ({cfg.history_days} days)"]
    for source, summary in manifest["sources"].items():
        bad = {kind: n for kind, n in summary["bad"].items() if n}
        lines.append(
            f"{source:<15} {summary['records']:>12,} records ({summary['format']}), {sum(bad.values()):,} bad"
            + (f": {bad}" if bad else "")
        )
        ctx.logger.info("landed %s: %s", source, summary)
    for cid, _, day in cfg.campaign_schedule():
        c = campaigns.get(cid, {})
        lines.append(
            f"campaign {cid} ({day}): {c.get('treatment', 0):,} treatment + {c.get('control', 0):,} control sends, "
            f"{c.get('incremental_orders', 0):,} incremental orders, {c.get('leavers', 0):,} leavers"
        )
    late = manifest["late_batch"]
    lines.append(f"late refunds    {late['orders']:>12,} later order versions in batch {late['batch_id']}")
    lines.append(f"raw files: {raw_dir}/<source>/{cfg.batch_id}/, manifest {raw_dir}/_manifest/{cfg.batch_id}.json")
    return lines
