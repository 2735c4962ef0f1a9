"""CDNOW fixtures for the BTYD tests: the raw data (fetched once) and its calibration summary.

The summary is built here in plain Python from the raw text file, independent of the model code, following
Fader, Hardie & Lee (2005): CDNOW_sample (2,357 customers, all first buying in Q1 1997), calibration period
weeks 1-39 of 1997, time unit one week.

Date convention that reproduces the published fit (r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4) and
the published summary (customer 1: x=2, t_x=30.43, T=38.86): orders dated up to and including 1997-09-30
count, and T = (1997-09-30 - first purchase day) / 7, i.e. "end of week 39" is day 272 counted from
1997-01-01 = day 0 (1997-10-01 exclusive). Same-day orders are one purchase whose value is their sum.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CDNOW_OUT = REPO / "data" / "cdnow"
CALIBRATION_END = date(1997, 9, 30)  # inclusive; also the end of the observation window for T
_EXIT_DOWNLOAD = 3  # scripts/fetch_cdnow.py's exit code when pip cannot download the wheel


@dataclass(frozen=True)
class CustomerSummary:
    """Calibration-period statistics of one customer, in weeks."""

    customer: str
    x: int
    t_x: float
    T: float
    m_x: float  # mean value of the repeat purchases; 0.0 when x == 0


@pytest.fixture(scope="session")
def cdnow_dir() -> Path:
    """Run scripts/fetch_cdnow.py (downloads once, then reuses data/cdnow) and return its output folder."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fetch_cdnow.py"), "--out", str(CDNOW_OUT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == _EXIT_DOWNLOAD:
        pytest.skip(f"CDNOW data cannot be downloaded here: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"fetch_cdnow.py failed ({proc.returncode}): {proc.stderr}"
    return CDNOW_OUT


def calibration_summary(
    raw_sample: Path, end: date = CALIBRATION_END, customer_of: Callable[[str], str] = lambda c: c
) -> list[CustomerSummary]:
    """Per-customer (x, t_x, T, m_x) from CDNOW_sample.txt for purchases dated <= `end`; ``customer_of`` maps
    the file's customer number to the customer summarised (several numbers may be one customer)."""
    spend_by_day: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for line in raw_sample.read_text(encoding="ascii").splitlines():
        fields = line.split()
        if not fields:
            continue
        customer, _sample_id, yyyymmdd, _n_cds, dollars = fields
        day = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
        if day <= end:
            spend_by_day[customer_of(customer)][day] += float(dollars)
    summaries = []
    for customer, by_day in sorted(spend_by_day.items()):
        days = sorted(by_day)
        repeat_spend = [by_day[d] for d in days[1:]]
        summaries.append(
            CustomerSummary(
                customer=customer,
                x=len(days) - 1,
                t_x=(days[-1] - days[0]).days / 7,
                T=(end - days[0]).days / 7,
                m_x=sum(repeat_spend) / len(repeat_spend) if repeat_spend else 0.0,
            )
        )
    return summaries


def group(summary: list[CustomerSummary], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Distinct combinations of the `names` columns with a `weight` column counting customers (a GROUP BY)."""
    counts = Counter(tuple(getattr(c, name) for name in names) for c in summary)
    keys = sorted(counts)
    columns = {name: np.array([k[i] for k in keys], dtype=np.float64) for i, name in enumerate(names)}
    return {**columns, "weight": np.array([counts[k] for k in keys], dtype=np.float64)}


@pytest.fixture(scope="session")
def cdnow_customers(cdnow_dir: Path) -> list[CustomerSummary]:
    return calibration_summary(cdnow_dir / "raw" / "CDNOW_sample.txt")


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_customers: list[CustomerSummary]) -> dict[str, np.ndarray]:
    """Per-customer columns x, t_x, T, m_x of CDNOW_sample (customers in master-id order)."""
    names = ("x", "t_x", "T", "m_x")
    return {name: np.array([getattr(c, name) for c in cdnow_customers], dtype=np.float64) for name in names}


@pytest.fixture(scope="session")
def cdnow_rfm_groups(cdnow_customers: list[CustomerSummary]) -> dict[str, np.ndarray]:
    """Distinct (x, t_x, T) combinations with their customer count `weight`, for BG/NBD."""
    return group(cdnow_customers, ("x", "t_x", "T"))


@pytest.fixture(scope="session")
def cdnow_spend_groups(cdnow_customers: list[CustomerSummary]) -> dict[str, np.ndarray]:
    """Distinct (x, m_x) combinations with their customer count `weight`, x == 0 included, for Gamma-Gamma."""
    return group(cdnow_customers, ("x", "m_x"))
