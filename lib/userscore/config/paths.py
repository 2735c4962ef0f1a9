"""Config section ``analysis.paths``."""

from __future__ import annotations

from userscore.config.typed import frozen


@frozen
class PathsAnalysis:
    """Declared in conf/base/analysis_paths.yaml."""
