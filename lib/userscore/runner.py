"""Run one job: parse arguments, load config, get the session, call the library, log a summary.

Exit codes: 0 success; 2 bad config, bad arguments or missing input (nothing written); 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config, deep_merge, load_config
from userscore.errors import UserscoreError
from userscore.logs import get_logger, timed


class Job(Protocol):
    """What a job module under userscore.jobs provides."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, ctx: JobContext) -> Sequence[str]: ...


@dataclass
class JobContext:
    """Everything a running job needs; the session is created on first use, after config checks."""

    name: str
    config: Config
    args: argparse.Namespace
    logger: logging.Logger
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    durations: dict[str, float] = field(default_factory=dict)
    writes: list[WriteResult] = field(default_factory=list)
    _catalog: Catalog | None = None

    @property
    def spark(self):
        return self.catalog.spark

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            from userscore.session import get_spark

            with self.stage("spark session"):
                spark = get_spark(self.config.spark, Path(self.config.root))
            self._catalog = RecordingCatalog(spark, self.config, self.logger, self.writes)
        return self._catalog

    def stage(self, name: str):
        return timed(self.logger, name, self.durations)


class RecordingCatalog(Catalog):
    """A catalog that remembers every write so the job summary can list them."""

    def __init__(self, spark, config, logger, writes: list[WriteResult]):
        super().__init__(spark, config, logger)
        self._writes = writes

    def _committed(self, name, operation, partition="", before=None):
        result = super()._committed(name, operation, partition, before)
        self._writes.append(result)
        return result


# One key segment: a bare name (no dots, quotes or '='), or a double-quoted name that may hold dots and
# '=' (a Spark setting such as "spark.sql.shuffle.partitions" under spark.conf).
_SEGMENT = r'"[^"]+"|[^."=]+'
_KEY = re.compile(rf"(?:{_SEGMENT})(?:\.(?:{_SEGMENT}))*")
_QUOTING = "a key holding dots in double quotes: spark.conf.\"spark.sql.shuffle.partitions\"='4'"


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set`` values as one nested mapping; the value is parsed as YAML.

    ``generate.users=1000`` -> ``{"generate": {"users": 1000}}``; a double-quoted segment is one key,
    dots included: ``spark.conf."spark.sql.shuffle.partitions"='4'`` ->
    ``{"spark": {"conf": {"spark.sql.shuffle.partitions": "4"}}}``. Later pairs win.
    """
    tree: dict[str, Any] = {}
    for pair in pairs:
        key = _KEY.match(pair)
        if key is None or pair[key.end() : key.end() + 1] != "=":
            raise argparse.ArgumentTypeError(f"--set expects key.path=value, got {pair!r} ({_QUOTING})")
        path = [part.strip('"') for part in re.findall(_SEGMENT, key.group())]
        raw = pair[key.end() + 1 :]
        try:
            value = yaml.safe_load(raw)
        except (yaml.YAMLError, RecursionError):
            raise argparse.ArgumentTypeError(f"--set {key.group()}: a YAML value, got {raw!r}") from None
        node = tree
        for part in path[:-1]:
            child = node.get(part)
            node[part] = child = child if isinstance(child, dict) else {}
            node = child
        node[path[-1]] = value
    return tree


def common_arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", help="config overlay under conf/ (default: $USERSCORE_ENV or 'local')")
    parser.add_argument("--conf-dir", help="folder with base/ and overlays (default: $USERSCORE_CONF or ./conf)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. generate.users=1000 or spark.conf.\"spark.sql.shuffle.partitions\"='4'",
    )
    return parser


def run_job(
    name: str,
    job: Job,
    args: argparse.Namespace,
    config_overrides: Callable[[argparse.Namespace], Mapping[str, Any]] | None = None,
) -> int:
    """Load config and run ``job``; return the process exit code."""
    logger = get_logger(name)
    started = time.perf_counter()
    try:
        overrides = parse_overrides(args.set)
        if config_overrides:
            overrides = deep_merge(overrides, config_overrides(args))
        config = load_config(env=args.env, conf_dir=args.conf_dir, overrides=overrides)
        logger.setLevel(config.observability.log_level)
        ctx = JobContext(name=name, config=config, args=args, logger=logger)
        logger.info("job %s start: env=%s run_id=%s args=%s", name, config.env, ctx.run_id, _shown(args))
        summary = job.run(ctx)
    except UserscoreError as exc:
        logger.error("%s", exc)
        print(f"userscore {name}: error: {exc}", flush=True)
        return exc.exit_code
    except argparse.ArgumentTypeError as exc:
        print(f"userscore {name}: error: {exc}", flush=True)
        return 2
    total = time.perf_counter() - started
    lines = [f"userscore {name} done in {total:.1f}s (run {ctx.run_id}, env {config.env})"]
    lines += [f"  {line}" for line in summary]
    if ctx.writes:
        lines.append("  written:")
        lines += [f"    {w}" for w in ctx.writes]
    if ctx.durations:
        lines.append("  stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in ctx.durations.items()))
    print("\n".join(lines), flush=True)
    return 0


def _shown(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("command", "handler") and v not in (None, [], False)}
