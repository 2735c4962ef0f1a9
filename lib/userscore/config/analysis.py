"""Config section ``analysis``: the user-base analyses (jobs/analyze.py, ``userscore analyze --as-of D``).

The job reads one snapshot D (scores, features, segments, silver) and writes bounded aggregates to the
``analysis`` table layer (partition as_of_date = D, replaceWhere) and one self-contained HTML report.
Each analysis is declared in its own section: funnels (config/funnels.py), behaviour paths
(config/paths.py), basic profile and consumption (config/consumption.py), interests (config/interests.py).
"""

from __future__ import annotations

from userscore.config.consumption import ConsumptionAnalysis, ProfileAnalysis
from userscore.config.funnels import FunnelsAnalysis
from userscore.config.interests import InterestsAnalysis
from userscore.config.paths import PathsAnalysis
from userscore.config.typed import frozen


@frozen
class AnalysisConfig:
    """The analysis job's sections."""

    funnels: FunnelsAnalysis
    paths: PathsAnalysis
    profile: ProfileAnalysis
    consumption: ConsumptionAnalysis
    interests: InterestsAnalysis
