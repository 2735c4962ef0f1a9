"""The ``userscore`` command: one sub-command per job (the same code spark-submit jobs/<job>.py runs)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from userscore.runner import common_arguments, run_job

# Sub-command -> module under userscore.jobs. Each module has HELP, add_arguments(parser), run(ctx)
# and optionally config_overrides(args).
JOBS = {
    "generate": "userscore.jobs.generate",
    "ingest": "userscore.jobs.ingest",
    "identity": "userscore.jobs.identity",
    "social": "userscore.jobs.social",
    "features": "userscore.jobs.features",
    "train": "userscore.jobs.train",
    "models": "userscore.jobs.models",
    "btyd": "userscore.jobs.btyd",
    "uplift": "userscore.jobs.uplift",
    "score": "userscore.jobs.score",
    "snapshot": "userscore.jobs.snapshot",
    "serve": "userscore.jobs.serve",
    "stream": "userscore.jobs.stream",
    "tags": "userscore.jobs.tags",
    "monitor": "userscore.jobs.monitor",
    "analyze": "userscore.jobs.analyze",
    "campaigns": "userscore.jobs.campaigns",
    "forget": "userscore.jobs.forget",
    "demo": "userscore.jobs.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="userscore", description="Score and tag users at scale on Spark.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_arguments()
    for name, module_name in JOBS.items():
        module = importlib.import_module(module_name)
        # Job docstrings are laid out by hand (tables of actions, examples): keep their line breaks.
        sub = commands.add_parser(
            name,
            parents=[common],
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    module = args.handler
    return run_job(args.command, module, args, getattr(module, "config_overrides", None))


if __name__ == "__main__":
    sys.exit(main())
