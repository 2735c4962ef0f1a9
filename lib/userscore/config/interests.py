"""Config section ``analysis.interests``."""

from __future__ import annotations

from userscore.config.typed import frozen


@frozen
class InterestsAnalysis:
    """Declared in conf/base/analysis_interests.yaml."""
