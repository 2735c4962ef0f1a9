"""Config section ``consent``: which purposes each stage needs granted (conf/base/consent.yaml)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import Literal

from userscore.config.typed import KeyPath, frozen

# Stages that honour consent. Each reads ConsentConfig.required[stage]; a new stage that serves or uses
# per-user output (the look-up API, campaigns) joins here.
STAGES = ("audiences",)
COLUMNS = ("user_id", "purpose", "status", "consented_at")


@frozen
class ConsentConfig:
    """``missing``: the consent of a user with no record for a purpose. ``required``: stage -> purposes."""

    table: str
    missing: Literal["denied", "granted"]
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        unknown = sorted(set(self.required) - set(STAGES))
        if unknown:
            raise ValueError(f"required: stages among {list(STAGES)}, got {unknown}")

    def purposes(self, stage: str) -> tuple[str, ...]:
        """The purposes ``stage`` needs granted (none when it is not listed)."""
        return self.required.get(stage, ())


def reference_errors(consent: ConsentConfig, tables: Mapping[str, object]) -> Iterator[tuple[KeyPath, str, str]]:
    """The consent table must be declared with the columns consent is read from."""
    if not any(consent.required.values()):
        return
    spec = tables.get(consent.table)
    if spec is None:
        yield ("consent", "table"), f"undefined table {consent.table!r}", f"one of {sorted(tables)}"
        return
    missing = [c for c in COLUMNS if c not in spec.column_names]
    if missing:
        yield ("consent", "table"), f"{consent.table} lacks columns {missing}", f"a table with columns {list(COLUMNS)}"
