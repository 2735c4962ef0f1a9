"""Config section ``analysis.funnels``."""

from __future__ import annotations

from userscore.config.typed import frozen


@frozen
class FunnelsAnalysis:
    """Declared in conf/base/analysis_funnels.yaml."""
