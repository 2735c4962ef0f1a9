"""The pipeline, declared once: its stages in order and the arguments each stage takes.

Read by every runner of the pipeline: ``userscore demo`` (jobs/demo.py), the cluster tests
(tests/cluster/conftest.py PIPELINE), scripts/submit.sh (its usage lists this order), and checked against the
hand-written Databricks bundle and the README by tests/deploy/test_pipeline.py (tasks, order, arguments).

A stage's arguments are templates filled per run: ``{name}`` inside an argument is replaced by a value (a date,
or a Databricks reference such as ``{{job.parameters.as_of}}``); an argument that is exactly ``{name}`` may
stand for several (``{snapshots}``: :func:`one_snapshot` or :func:`snapshot_range`; ``{targets}``:
:data:`ALL_TARGETS` or :func:`some_targets`). Runs add only their own operational options (``--force``,
``--now``, ``--fail-on-alert``, ``--set``) after the declared arguments. No pyspark here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Value = str | Sequence[str]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Stage:
    """One job of the pipeline (``userscore <job>``, ``jobs/<job>.py``) and its argument templates.

    synthetic: runs only where the data is generated (the demo, tests), never in a deployment.
    """

    job: str
    args: tuple[str, ...] = ()
    synthetic: bool = False


STAGES: tuple[Stage, ...] = (
    Stage("generate", synthetic=True),
    Stage("ingest"),
    Stage("identity", ("--as-of", "{as_of}")),
    Stage("social", ("{snapshots}",)),
    Stage("features", ("{snapshots}",)),
    Stage("train", ("{targets}",)),
    Stage("btyd", ("--as-of", "{as_of}")),
    Stage("uplift", ("--all",)),
    Stage("score", ("--as-of", "{as_of}")),
    Stage("snapshot", ("--as-of", "{as_of}")),
    Stage("monitor", ("--as-of", "{as_of}")),
    Stage("analyze", ("--as-of", "{as_of}")),
    Stage("campaigns", ("--as-of", "{as_of}")),
)
JOBS: tuple[str, ...] = tuple(s.job for s in STAGES)
ALL_TARGETS: tuple[str, ...] = ("--all",)


def one_snapshot(as_of: object) -> list[str]:
    return ["--as-of", str(as_of)]


def snapshot_range(first: object, last: object, every: str) -> list[str]:
    return ["--from", str(first), "--to", str(last), "--every", every]


def some_targets(*names: str) -> list[str]:
    return [a for name in names for a in ("--target", name)]


def stage(job: str) -> Stage:
    for declared in STAGES:
        if declared.job == job:
            return declared
    raise KeyError(f"{job!r} is not a pipeline stage; stages: {', '.join(JOBS)}")


def argv(job: str, values: Mapping[str, Value]) -> list[str]:
    """The declared arguments of ``job`` with ``values`` filled in (KeyError naming a missing value)."""
    out: list[str] = []
    for template in stage(job).args:
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and not isinstance(values[whole.group(1)], str):
            out += [str(v) for v in values[whole.group(1)]]
        else:
            out.append(_PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template))
    return out


def commands(values: Mapping[str, Value], *, synthetic: bool = False) -> list[tuple[str, list[str]]]:
    """Every stage as (job, arguments), in pipeline order; ``synthetic``: include the generator."""
    return [(s.job, argv(s.job, values)) for s in STAGES if synthetic or not s.synthetic]


def in_order(jobs: Sequence[str]) -> bool:
    """Whether ``jobs`` (e.g. one scheduled job's tasks) follow the pipeline order, each stage at most once."""
    positions = [JOBS.index(job) for job in jobs if job in JOBS]
    return len(positions) == len(jobs) and positions == sorted(set(positions))


def describe() -> str:
    """``generate (synthetic data only) -> ingest -> ...``: the order, for usage messages."""
    return " -> ".join(f"{s.job} (synthetic data only)" if s.synthetic else s.job for s in STAGES)


if __name__ == "__main__":
    print(describe())
