"""Run the whole pipeline once in local mode on synthetic data and say where every result is.

Parameters:
  --users N   users to generate (default: generate.users in conf, 10,000)
  --seed S    generator seed (default: generate.seed)

Every stage of the pipeline (userscore.pipeline, in its order) runs in this one process and Spark session,
exactly as its own job would (``userscore <stage>`` / ``spark-submit jobs/<stage>.py``).
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
# GBT trees per target in the demo (the default is 80): half the training time, a few thousandths of AUC.
# `make quality` trains with the defaults on the demo's data.
DEMO_TREES = 40


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


def demo_training(config: Config) -> Config:
    """``config`` with DEMO_TREES trees for every target."""
    models = config.models
    targets = {n: replace(t, gbt=replace(t.gbt, max_iter=DEMO_TREES)) for n, t in models.targets.items()}
    return replace(config, models=replace(models, targets=targets))


POINTERS = ("MLflow tracking:", "MLflow UI:", "report:", "analysis report:", "published:")


def findings(lines: Sequence[str]) -> list[str]:
    """What the analyses found: the analyze stage's lines about capped users and of each analysis."""
    from userscore.analysis.pipeline import ANALYSES

    prefixes = ("capped users:", *(f"{name}:" for name in ANALYSES))
    return [line for line in lines if line.startswith(prefixes)]


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.cli import build_parser

    parser = build_parser()
    pointers = []  # where to look next: the MLflow store and UI, the monitoring and analysis reports
    found = []  # what the analyses found
    for name, argv in stages(ctx):
        args = parser.parse_args([name, *argv])
        stage_ctx = JobContext(
            name=name,
            config=demo_training(ctx.config) if name == "train" else ctx.config,
            args=args,
            logger=ctx.logger.getChild(name),
            run_id=ctx.run_id,
            durations=ctx.durations,
            writes=ctx.writes,
            _catalog=ctx.catalog,
        )
        with ctx.stage(f"demo {name}"):
            lines = args.handler.run(stage_ctx)
        print(f"\n== {name} ==\n" + "\n".join(f"  {line}" for line in lines), flush=True)
        pointers += [line for line in lines if line.startswith(POINTERS)]
        if name == "analyze":
            found += findings(lines)
    config = ctx.config
    return [
        *dict.fromkeys(pointers),
        *(["what the analyses found (analysis.* tables, the analysis report):"] if found else []),
        *(f"  {line}" for line in found),
        f"raw files:  {config.path(config.generate.raw_dir)}",
        f"warehouse:  {config.path(config.catalog.root)} (Delta tables <layer>/<name>)",
        *(f"  {name:<24} {ctx.catalog.location(name)}" for name in sorted({w.table for w in ctx.writes})),
    ]
