"""The CDNOW validation set through the project's own pipeline: config overlay and ingest of the sample.

scripts/fetch_cdnow.py lands the CDNOW records as raw batch ``cdnow-<name>`` under
data/cdnow/landing/<name>/{orders,users}/ (JSON lines). The overlay points ingest at that folder and reads
users as JSON (the production users source is Parquet); everything else is the production config.
Fader, Hardie & Lee's calibration period is 1997-01-01..1997-09-30 (39 weeks), the holdout
1997-10-01..1998-06-30 (39 weeks); in the project's convention that is snapshot D = 1997-10-01.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from userscore.catalog import Catalog
from userscore.ingest import BatchResult, ingest, plan_ingest

CALIBRATION_START = dt.date(1997, 1, 1)  # the cohort's first purchases: nothing in CDNOW is earlier
CALIBRATION_END = dt.date(1997, 10, 1)  # snapshot D: orders dated up to 1997-09-30 are observed
HOLDOUT_END = dt.date(1998, 7, 1)  # exclusive: the holdout is 1997-10-01..1998-06-30
SOURCES = ("users", "orders")


def batch_id(name: str) -> str:
    return f"cdnow-{name}"


def landing_dir(cdnow_dir: Path, name: str = "sample") -> Path:
    return cdnow_dir / "landing" / name


def config_overrides(cdnow_dir: Path, name: str = "sample") -> dict[str, Any]:
    """Config overlay: ingest reads the landed CDNOW batch, users as JSON lines, and accepts its 1997 dates
    (the production earliest_date is later); the fit uses exact days.

    The published fit uses each customer's exact days expressed in weeks (t_x = 213 / 7 = 30.43), so the
    overlay sets btyd.fit_resolution_days to 1 instead of the production default of one time unit.
    """
    return {
        "ingest": {
            "raw_dir": str(landing_dir(cdnow_dir, name)),
            "earliest_date": CALIBRATION_START,
            "sources": {"users": {"format": "json"}},
        },
        "btyd": {"time_unit": "weeks", "fit_resolution_days": 1},
    }


def ingest_cdnow(
    catalog: Catalog, raw_dir: Path, name: str = "sample", logger: logging.Logger | None = None
) -> list[BatchResult]:
    """Ingest the landed CDNOW users and orders with the project's ingest (validation, dedupe, audit).

    ``catalog.config`` must carry :func:`config_overrides`; ``raw_dir`` is its resolved ingest.raw_dir.
    """
    config = catalog.config.ingest
    plan = plan_ingest(catalog, config, raw_dir, sources=list(SOURCES), batch=batch_id(name), force=True)
    return ingest(catalog, config, raw_dir, plan, now=dt.datetime.now(dt.UTC), run_id=f"cdnow-{name}", logger=logger)
