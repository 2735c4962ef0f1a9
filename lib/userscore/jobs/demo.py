"""Run the whole pipeline once in local mode on synthetic data and say where every result is.

Parameters:
  --users N   users to generate (default: generate.users in conf, 20,000)
  --seed S    generator seed (default: generate.seed)

Every stage runs in this one process and Spark session, exactly as its own job would
(``userscore <stage>`` / ``spark-submit jobs/<stage>.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.runner import JobContext

HELP = "run generate -> ingest -> ... on synthetic data in local mode"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, help="users to generate")
    parser.add_argument("--seed", type=int, help="generator seed")


def config_overrides(args: argparse.Namespace) -> dict:
    generate = {k: v for k, v in (("users", args.users), ("seed", args.seed)) if v is not None}
    return {"generate": generate} if generate else {}


def stages(ctx: JobContext) -> list[tuple[str, list[str]]]:
    """The demo's stages as (job, arguments), in pipeline order."""
    return [
        ("generate", []),
        ("ingest", ["--force"]),
    ]


def run(ctx: JobContext) -> Sequence[str]:
    from userscore.cli import build_parser

    parser = build_parser()
    for name, argv in stages(ctx):
        args = parser.parse_args([name, *argv])
        stage_ctx = JobContext(
            name=name, config=ctx.config, args=args, logger=ctx.logger.getChild(name), run_id=ctx.run_id,
            durations=ctx.durations, writes=ctx.writes, _catalog=ctx.catalog,
        )
        with ctx.stage(f"demo {name}"):
            lines = args.handler.run(stage_ctx)
        print(f"\n== {name} ==\n" + "\n".join(f"  {line}" for line in lines), flush=True)
    config = ctx.config
    return [
        f"raw files:  {config.path(config.generate.raw_dir)}",
        f"warehouse:  {config.path(config.catalog.root)} (Delta tables <layer>/<name>)",
        *(f"  {name:<24} {ctx.catalog.location(name)}" for name in sorted({w.table for w in ctx.writes})),
    ]
