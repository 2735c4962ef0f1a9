"""Analyse snapshot D end to end: inputs -> every analysis -> analysis.* tables -> the HTML report.

Order: the funnels' per-user outcomes are computed once (persisted) and feed both the funnel aggregates and
the paths of converted vs dropped users; then profile, consumption and interests. Every analysis is pure
DataFrame work (userscore.analysis.inputs); this module owns the reads and writes.

Before the first write every output's declaration is checked (a declared ``analysis.`` table partitioned
by as_of_date, its columns conform to the declaration, no table produced twice) and every table is set up:
a bad declaration or column fails the job with exit code 2 having written nothing. The frames are lazy, so
a failure while computing a table (at its write) is not caught before: each table's partition D is
replaced in one commit (replaceWhere), so a failure midway leaves the tables written before it at the new
D, the later ones as they were (their old partition D, or none), and the job exits non-zero. Re-running D
repairs it: the writes are idempotent (re-running D gives the same rows). The events (capped) and the
orders (before D, refunds applied) are persisted for the run: every analysis reads them. The report
reads the written partitions back, except tables of per-user rows (``subject_columns`` declared, e.g.
funnel drop-off audiences): the driver only ever holds bounded aggregates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.analysis.inputs import AnalysisInputs, AnalysisOutput
from userscore.analysis.load import load_inputs
from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.errors import InputError
from userscore.keys import AS_OF

LAYER = "analysis"
# The analyses run_analyses runs, in order: the prefixes of their summary lines.
ANALYSES = ("funnels", "paths", "profile", "consumption", "interests")


@dataclass
class AnalysisOutcome:
    """What one run did: counts of the inputs, each analysis's output, the writes and the report."""

    as_of: dt.date
    users: int
    events: int
    capped_users: int
    max_events_per_user: int
    lookback_days: int
    outputs: Mapping[str, AnalysisOutput]
    writes: list[WriteResult] = field(default_factory=list)
    report_path: Path | None = None
    findings: list[str] = field(default_factory=list)  # headline lines, "<analysis>: ..." (analysis/findings.py)


@contextlib.contextmanager
def run_analyses(inputs: AnalysisInputs, config: Config) -> Iterator[dict[str, AnalysisOutput]]:
    """Every analysis of ``inputs`` (lazy frames), valid inside the block: the funnels' per-user outcomes
    feed two analyses and stay persisted until the block has written everything."""
    from userscore.analysis import consumption, funnels, interests, paths, profile

    outcomes = funnels.user_outcomes(inputs, config).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        yield {
            "funnels": funnels.analyse(inputs, config, outcomes=outcomes),
            "paths": paths.analyse(inputs, config, funnel_outcomes=outcomes),
            "profile": profile.analyse(inputs, config),
            "consumption": consumption.analyse(inputs, config),
            "interests": interests.analyse(inputs, config),
        }
    finally:
        outcomes.unpersist()


def check_outputs(catalog: Catalog, outputs: Mapping[str, AnalysisOutput]) -> dict[str, DataFrame]:
    """Table -> its rows conformed to the declaration, for every output; InputError (nothing written) when a
    table is undeclared, outside the analysis layer, not partitioned by as_of_date, or produced twice."""
    producer: dict[str, str] = {}
    problems = []
    for analysis, output in outputs.items():
        for name in output.tables:
            if name in producer:
                problems.append(f"{name} is produced by both {producer[name]} and {analysis}")
            producer[name] = analysis
            if name not in catalog.config.tables:
                problems.append(f"{analysis} produced {name}, which conf (tables) does not declare")
            elif name.split(".", 1)[0] != LAYER or catalog.spec(name).partition_by != (AS_OF,):
                problems.append(f"{analysis} produced {name}: not an {LAYER}.* table partitioned by [{AS_OF}]")
    if problems:
        raise InputError("analysis outputs, nothing written: " + "; ".join(problems))
    return {name: catalog.conform(name, df) for output in outputs.values() for name, df in output.tables.items()}


def write_outputs(catalog: Catalog, as_of: dt.date, tables: Mapping[str, DataFrame]) -> list[WriteResult]:
    """Replace partition ``as_of`` of every table in one commit each (tables set up first, all together)."""
    catalog.prepare(*tables)
    return [catalog.overwrite_where(name, df, {AS_OF: as_of}) for name, df in tables.items()]


Frames = dict[str, dict[str, pd.DataFrame]]


def read_back(catalog: Catalog, as_of: dt.date, outputs: Mapping[str, AnalysisOutput]) -> Frames:
    """Analysis -> {table: its written partition as pandas}, leaving out tables of per-user rows."""
    frames: Frames = {}
    for analysis, output in outputs.items():
        frames[analysis] = {
            name: catalog.read(name, F.col(AS_OF) == F.lit(as_of)).toPandas()
            for name in output.tables
            if not catalog.spec(name).holds_subjects
        }
    return frames


def report_facts(outcome: AnalysisOutcome) -> list[tuple[str, str]]:
    """The report header's lines about the data analysed."""
    start = outcome.as_of - dt.timedelta(days=outcome.lookback_days)
    return [
        ("Users scored on the snapshot", f"{outcome.users:,}"),
        (f"Events analysed ({start} to {outcome.as_of - dt.timedelta(days=1)})", f"{outcome.events:,}"),
        (
            f"Users capped at their latest {outcome.max_events_per_user:,} events (likely bots)",
            f"{outcome.capped_users:,}",
        ),
    ]


def summary_lines(outcome: AnalysisOutcome) -> list[str]:
    """The job summary: inputs, capped users, each analysis's findings (or, for an analysis that found
    nothing to headline, its own lines), each line naming its analysis once (``<analysis>: ...``), the report."""
    lines = [
        f"snapshot {outcome.as_of}: {outcome.users:,} users, {outcome.events:,} events in the last "
        f"{outcome.lookback_days} days",
        f"capped users: {outcome.capped_users:,} had more than {outcome.max_events_per_user:,} events "
        "(only their latest kept)",
    ]
    for analysis, output in outcome.outputs.items():
        prefix = f"{analysis}:"  # every line names its analysis once, whether or not the analysis did
        found = [line for line in outcome.findings if line.startswith(prefix)]
        lines += found or [line if line.startswith(prefix) else f"{prefix} {line}" for line in output.summary]
    if outcome.report_path is not None:
        lines.append(f"analysis report: {outcome.report_path}")
    return lines


def analyse_snapshot(
    catalog: Catalog,
    config: Config,
    as_of: dt.date,
    *,
    report_path: Path | None = None,
    analyses: Callable[[AnalysisInputs, Config], contextlib.AbstractContextManager] = run_analyses,
    sections: Mapping | None = None,
    logger: logging.Logger | None = None,
    stage: Callable[[str], contextlib.AbstractContextManager] | None = None,
) -> AnalysisOutcome:
    """Analyse snapshot ``as_of``, write its tables and the report.

    Args:
        report_path: default ``<analysis.report_dir>/analysis-<D>.html``.
        analyses, sections: a context manager giving analysis -> output, and the report's section
            functions (default: :func:`run_analyses` and every report module of userscore.analysis).
    """
    logger = logger or logging.getLogger("userscore.analyze")
    stage = stage or (lambda name: contextlib.nullcontext())
    settings = config.analysis
    with stage("inputs"):
        loaded = load_inputs(catalog, config, as_of)
        inputs = replace(
            loaded,
            events=loaded.events.persist(StorageLevel.MEMORY_AND_DISK),
            orders=loaded.orders.persist(StorageLevel.MEMORY_AND_DISK),
        )
    try:
        with analyses(inputs, config) as produced:
            outputs = dict(produced)
            with stage("check"):
                tables = check_outputs(catalog, outputs)
            with stage("write"):
                writes = write_outputs(catalog, as_of, tables)
        outcome = AnalysisOutcome(
            as_of=as_of,
            users=inputs.scores.count(),
            events=inputs.events.count(),
            capped_users=inputs.capped_users.count(),
            max_events_per_user=settings.max_events_per_user,
            lookback_days=settings.lookback_days,
            outputs=outputs,
            writes=writes,
        )
    finally:
        inputs.events.unpersist()
        inputs.orders.unpersist()
    if outcome.capped_users:
        logger.warning(
            "%d users had more than %d events in the look-back: only their latest kept",
            outcome.capped_users,
            outcome.max_events_per_user,
        )
    with stage("report"):
        from userscore.analysis.findings import findings
        from userscore.analysis.report import render, write_report  # matplotlib loads only for the report

        frames = read_back(catalog, as_of, outputs)
        outcome.findings = findings({t: df for tables in frames.values() for t, df in tables.items()}, config)
        path = report_path or config.path(settings.report_dir) / f"analysis-{as_of.isoformat()}.html"
        outcome.report_path = write_report(render(as_of, frames, config, report_facts(outcome), sections), path)
    return outcome
