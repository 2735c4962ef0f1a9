"""Config section ``privacy``: how a data subject's erasure is carried out (docs/privacy.md)."""

from __future__ import annotations

from typing import Literal

from userscore.config.typed import frozen


@frozen
class ErasureConfig:
    """``vacuum_retention_hours``: VACUUM retention after a deletion. Files deleted by the erasure stay
    readable by time travel until a VACUUM with a shorter horizon runs; below 168 hours Delta's retention
    check is switched off for that call, which breaks readers of older snapshots and time travel.
    ``raw_files``: ``rewrite`` the landed files that hold the subject without the subject's records, or
    ``keep`` them (with ``keep_reason``, e.g. a legal hold, recorded in the erasure log).
    """

    vacuum_retention_hours: int
    raw_files: Literal["rewrite", "keep"]
    keep_reason: str = ""

    def __post_init__(self):
        if self.vacuum_retention_hours < 0:
            raise ValueError(f"vacuum_retention_hours: zero or more hours, got {self.vacuum_retention_hours}")
        if self.raw_files == "keep" and not self.keep_reason.strip():
            raise ValueError("keep_reason: why raw files are kept (recorded in the erasure log) when raw_files is keep")


@frozen
class PrivacyConfig:
    erasure: ErasureConfig
