"""Run the whole pipeline once in local mode on synthetic data and say where every result is.

Parameters:
  --users N   users to generate (default: generate.users in conf, 10,000)
  --seed S    generator seed (default: generate.seed)

Every stage of the pipeline (userscore.pipeline, in its order) runs in this one process and Spark session,
exactly as its own job would (``userscore <stage>`` / ``spark-submit jobs/<stage>.py``). Then the stream: a
morning of live traffic (userscore.generate.live) lands on the day after the history, and `userscore stream
--available-now` ingests it and rescores its users.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from userscore import pipeline
from userscore.config import Config
from userscore.runner import JobContext

HELP = "run generate -> ingest -> ... on synthetic data in local mode"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, help="users to generate")
    parser.add_argument("--seed", type=int, help="generator seed")


def config_overrides(args: argparse.Namespace) -> dict:
    generate = {k: v for k, v in (("users", args.users), ("seed", args.seed)) if v is not None}
    return {"generate": generate} if generate else {}


# Feature snapshots every SNAPSHOT_DAYS over the last SNAPSHOT_SPAN_DAYS up to end_date: enough matured
# snapshots for every target (the longest horizon is 90 days), and a matured previous snapshot to monitor.
SNAPSHOT_DAYS, SNAPSHOT_SPAN_DAYS = 60, 360
# The live morning the stream rescores: LIVE_EVENTS events and LIVE_ORDERS orders of LIVE_USERS users between
# 08:00 and 12:00 UTC of the day after the history, streamed at 12:00.
LIVE_USERS, LIVE_EVENTS, LIVE_ORDERS = 300, 1500, 150
# GBT trees per target in the demo (the default is 80): half the training time, a few thousandths of AUC.
# `make quality` trains with the defaults on the demo's data.
DEMO_TREES = 40
# Label propagation rounds in the demo (the default is 20): synchronous label propagation does not settle on
# the generated network (each social line says "stopped at the limit"), so the demo's seven social runs stop
# at 10, a third less social time; `userscore social` runs the default.
DEMO_COMMUNITY_ROUNDS = 10


def values(end: dt.date) -> dict[str, pipeline.Value]:
    """The demo's values of the pipeline's arguments for data ending at ``end``."""
    first = end - dt.timedelta(days=SNAPSHOT_SPAN_DAYS)
    return {
        "snapshots": pipeline.snapshot_range(first, end, f"{SNAPSHOT_DAYS}d"),
        "targets": pipeline.ALL_TARGETS,
        "as_of": str(end),
    }


def stages(ctx: JobContext) -> list[tuple[str, list[str]]]:
    """The demo's stages as (job, arguments), in pipeline order."""
    end = ctx.config.generate.end_date
    previous = end - dt.timedelta(days=SNAPSHOT_DAYS)
    out = []
    for job, argv in pipeline.commands(values(end), synthetic=True):
        if job == "score":  # the previous snapshot too: the monitor compares the latest scores with it
            out.append((job, pipeline.argv(job, {"as_of": str(previous)})))
        # The generator rewrites the same batch ids each run: ingest them again.
        out.append((job, [*argv, "--force"] if job == "ingest" else argv))
    return out


def demo_config(config: Config, stage: str) -> Config:
    """``config`` for a stage of the demo: DEMO_TREES trees for every target, DEMO_COMMUNITY_ROUNDS rounds of
    label propagation."""
    if stage == "train":
        models = config.models
        targets = {n: replace(t, gbt=replace(t.gbt, max_iter=DEMO_TREES)) for n, t in models.targets.items()}
        return replace(config, models=replace(models, targets=targets))
    if stage == "social":
        return replace(config, social=replace(config.social, community_max_iter=DEMO_COMMUNITY_ROUNDS))
    return config


POINTERS = ("MLflow tracking:", "MLflow UI:", "report:", "analysis report:", "campaign report:", "published:")


def findings(lines: Sequence[str]) -> list[str]:
    """What the analyses found: the analyze stage's lines about capped users and of each analysis."""
    from userscore.analysis.pipeline import ANALYSES

    prefixes = ("capped users:", *(f"{name}:" for name in ANALYSES))
    return [line for line in lines if line.startswith(prefixes)]


def stage_context(ctx: JobContext, name: str, args: argparse.Namespace, config: Config) -> JobContext:
    """A stage's context inside the demo: its own arguments and logger, the demo's session, run id and records."""
    return JobContext(
        name=name,
        config=config,
        args=args,
        logger=ctx.logger.getChild(name),
        run_id=ctx.run_id,
        durations=ctx.durations,
        writes=ctx.writes,
        _catalog=ctx.catalog,
    )


def identity_against_truth(ctx: JobContext, as_of: dt.date) -> str:
    """How the person map of ``as_of`` matches the generator's true persons (truth.user_traits)."""
    from pyspark.sql import functions as F

    from userscore.identity.quality import stitching_quality
    from userscore.jobs.generate import TRUTH_TABLE

    catalog, batch = ctx.catalog, ctx.config.generate.batch_id
    truth = catalog.read(TRUTH_TABLE, F.col("batch_id") == batch).select(
        "user_id", F.col("person_id").alias("true_person")
    )
    persons = catalog.read(ctx.config.identity.person_map_table, F.col("as_of_date") == F.lit(as_of))
    return f"against the generator's true persons: {stitching_quality(persons, truth).describe()}"


def campaigns_against_truth(ctx: JobContext) -> list[str]:
    """Per generated campaign, what the contacts really did (truth.campaign_effects, never read by the
    product): orders they added, users they made leave, the treated users' mean true uplift."""
    from pyspark.sql import functions as F

    from userscore.jobs.generate import CAMPAIGN_TRUTH_TABLE

    effects = ctx.catalog.read(CAMPAIGN_TRUTH_TABLE, F.col("batch_id") == ctx.config.generate.batch_id)
    rows = (
        effects.where(F.col("arm") == "treatment")
        .groupBy("campaign_id")
        .agg(
            F.sum("incremental_orders").alias("added"),
            F.count_if("left").alias("left"),
            F.avg("true_uplift").alias("uplift"),
        )
        .orderBy("campaign_id")
        .collect()
    )
    return [
        f"against the generator's truth: {r.campaign_id}: the contacts added {r.added:,} orders and made "
        f"{r.left:,} users leave; mean true uplift of the treated {r.uplift:+.3f}"
        for r in rows
    ]


def uplift_against_truth(ctx: JobContext) -> list[str]:
    """How each ranking of the uplift models' held-out campaign (campaigns.uplift_validation) recovers the
    generator's true per-user effect (truth.campaign_effects, never read by the product): the Qini
    coefficient with the true effect as the outcome, and the correlation of score and true uplift."""
    from pyspark.sql import functions as F

    from userscore.jobs.generate import CAMPAIGN_TRUTH_TABLE
    from userscore.uplift.metrics import effect_qini

    catalog, table = ctx.catalog, ctx.config.campaigns.uplift.validation_table
    if not catalog.exists(table):
        return []
    truth = catalog.read(CAMPAIGN_TRUTH_TABLE, F.col("batch_id") == ctx.config.generate.batch_id)
    joined = catalog.read(table).join(truth.select("campaign_id", "user_id", "true_uplift"), ["campaign_id", "user_id"])
    joined = joined.persist()
    try:
        keys = joined.select("campaign_type", "campaign_id", "ranking").distinct().orderBy("ranking").collect()
        lines = []
        for kind, campaign in sorted({(k.campaign_type, k.campaign_id) for k in keys}):
            parts = []
            for ranking in [k.ranking for k in keys if (k.campaign_type, k.campaign_id) == (kind, campaign)]:
                rows = joined.where((F.col("campaign_type") == kind) & (F.col("ranking") == ranking))
                qini = effect_qini(rows, "score", "true_uplift")
                corr = rows.agg(F.corr("score", "true_uplift")).first()[0]
                parts.append((qini if qini is not None else float("-inf"), ranking, qini, corr))
            lines.append(f"against the generator's true effect ({kind}, held-out {campaign}), by true Qini:")
            lines += [
                f"  {ranking:<28} true Qini {_signed(qini)}, correlation with the true uplift {_signed(corr)}"
                for _, ranking, qini, corr in sorted(parts, reverse=True)
            ]
        return lines
    finally:
        joined.unpersist()


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.cli import build_parser

    parser = build_parser()
    pointers = []  # where to look next: the MLflow store and UI, the monitoring and analysis reports
    found = []  # what the analyses found
    for name, argv in stages(ctx):
        args = parser.parse_args([name, *argv])
        config = demo_config(ctx.config, name)
        with ctx.stage(f"demo {name}"):
            lines = args.handler.run(stage_context(ctx, name, args, config))
            if name == "identity":
                lines = [*lines, identity_against_truth(ctx, args.as_of)]
            if name == "campaigns":
                lines = [*lines, *campaigns_against_truth(ctx)]
            if name == "uplift":
                lines = [*lines, *uplift_against_truth(ctx)]
        print(f"\n== {name} ==\n" + "\n".join(f"  {line}" for line in lines), flush=True)
        pointers += [line for line in lines if line.startswith(POINTERS)]
        if name == "analyze":
            found += findings(lines)
    with ctx.stage("demo stream"):
        lines = live_stream(ctx, parser)
    print("\n== stream ==\n" + "\n".join(f"  {line}" for line in lines), flush=True)
    config = ctx.config
    return [
        *dict.fromkeys(pointers),
        *(["what the analyses found (analysis.* tables, the analysis report):"] if found else []),
        *(f"  {line}" for line in found),
        f"raw files:  {config.path(config.generate.raw_dir)}",
        f"warehouse:  {config.path(config.catalog.root)} (Delta tables <layer>/<name>)",
        *(f"  {name:<24} {ctx.catalog.location(name)}" for name in sorted({w.table for w in ctx.writes})),
    ]


def live_stream(ctx: JobContext, parser) -> list[str]:
    """Land the live morning (replacing the previous demo's) and run `userscore stream --available-now`."""
    import shutil

    from pyspark.sql import functions as F

    from userscore.generate.live import land, live_batch
    from userscore.stream.query import checkpoint_location

    config = ctx.config
    day = dt.datetime.combine(config.generate.end_date, dt.time(), dt.UTC)
    # A bounded sample of ids (not a per-user collect): the users the live traffic comes from.
    users = ctx.catalog.read("silver.users").select("user_id").orderBy(F.xxhash64("user_id")).limit(LIVE_USERS)
    ids = [row.user_id for row in users.collect()]
    batch = live_batch(
        config.generate,
        f"live-{ctx.run_id}",  # a new batch each run: the audit records the previous runs' as ingested
        ids,
        day + dt.timedelta(hours=8),
        day + dt.timedelta(hours=12),
        events=LIVE_EVENTS,
        orders=LIVE_ORDERS,
        seed=config.generate.seed,
    )
    raw_dir = config.path(config.ingest.raw_dir)
    folders = {s: config.ingest.sources[s].path for s in ("orders", "events")}
    # A re-run streams its own morning: the previous demo's live folders and stream checkpoint go first.
    for folder in folders.values():
        for old in (raw_dir / folder).glob("live-*"):
            shutil.rmtree(old)
    shutil.rmtree(checkpoint_location(config), ignore_errors=True)
    land(batch, raw_dir, folders["orders"], folders["events"])
    now = (day + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = parser.parse_args(["stream", "--available-now", "--now", now])
    landed = (
        f"landed {batch.batch_id}: {len(batch.orders)} orders and {len(batch.events)} events of {len(ids)} users, "
        f"{now[:10]} 08:00-12:00 UTC; streamed at {now}"
    )
    return [landed, *args.handler.run(stage_context(ctx, "stream", args, config))]
