"""What one monitor run computed, wrote and drew: the record the report, the summary and MLflow read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from userscore.catalog import WriteResult
from userscore.models.registry import RunRecord
from userscore.monitoring.ladder import Ladder, Watched
from userscore.monitoring.reference import Reference


@dataclass
class MonitorOutcome:
    """Everything one monitor run computed, wrote and drew."""

    as_of: dt.date
    previous: dt.date | None
    watched: list[Watched]
    models: dict[str, RunRecord]
    references: dict[str, Reference]
    history: Ladder
    ladder: list[dict]
    drift: list[dict]
    accuracy: list[dict]
    alerts: list[dict]
    drift_history: list[dict] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report_path: Path | None = None
    mlflow_run_id: str | None = None
