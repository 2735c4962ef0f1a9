"""List the registered userscore models: every version, its aliases (champion) and key validation metrics.

Parameters: none besides the common ones (--env, --conf-dir, --set). Reads the MLflow store of
models.tracking; needs no Spark session and writes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from userscore.runner import JobContext

HELP = "list registered models, versions, aliases and key metrics from the MLflow registry"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no job-specific arguments


def run(ctx: JobContext) -> Sequence[str]:
    from pathlib import Path

    from userscore.models.registry import format_table, list_versions
    from userscore.models.tracking import reader, resolve

    store = resolve(ctx.config.models.tracking, Path(ctx.config.root))
    client = reader(store)
    rows = list_versions(client, ctx.config.models.tracking.model_prefix) if client is not None else []
    if not rows:
        return [f"no registered models named {ctx.config.models.tracking.model_prefix}* in {store.uri}"]
    return [*format_table(rows), *store.pointer_lines()]
