"""Config section ``ingest``: raw sources, their target tables and validation rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Literal

from userscore.config.typed import frozen


@frozen
class RangeRule:
    """Numeric bounds (inclusive) for one column."""

    min: float | None = None
    max: float | None = None


@frozen
class SourceConfig:
    """One raw source: where its files are, how they are encoded and which silver table they feed."""

    format: Literal["json", "parquet", "csv"]
    path: str
    table: str
    event_time: str | None = None
    user_reference: str | None = None
    ranges: Mapping[str, RangeRule] = field(default_factory=dict)
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pii: Mapping[str, str] = field(default_factory=dict)


@frozen
class IngestConfig:
    """Raw landing folder, the sources in load order, and limits every record is checked against."""

    raw_dir: str = "data/raw"
    pii_key_env: str = "USERSCORE_PII_KEY"
    max_string_length: int = 1000
    future_tolerance_hours: int = 24
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
