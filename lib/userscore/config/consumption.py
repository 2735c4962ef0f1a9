"""Config sections ``analysis.profile`` and ``analysis.consumption``."""

from __future__ import annotations

from userscore.config.typed import frozen


@frozen
class ProfileAnalysis:
    """Declared in conf/base/analysis_consumption.yaml."""


@frozen
class ConsumptionAnalysis:
    """Declared in conf/base/analysis_consumption.yaml."""
