"""Config ``analysis.inputs``: the one place the analysis job's input tables are named.

Its own module so the sections' reference checks (config/funnels.py, consumption.py, interests.py) can take
it without importing config/analysis.py, which imports them.
"""

from __future__ import annotations

from userscore.config.typed import frozen


@frozen
class AnalysisInputTables:
    """The tables one snapshot's analyses read (docs/analysis.md)."""

    events: str
    orders: str
    users: str
    scores: str
    features: str
    segments: str
