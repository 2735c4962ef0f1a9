"""Config section ``tables``: every table's schema, partitioning, constraints and properties, once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from typing import Literal

from userscore.config.typed import frozen

ColumnType = Literal["string", "int", "long", "double", "boolean", "date", "timestamp", "binary"]
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Delta collects min/max statistics of these columns only: set from the privacy declarations below.
STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"
STATS_COUNT_PROPERTY = "delta.dataSkippingNumIndexedCols"
_NO_STATS_TYPES = ("boolean", "binary")


@frozen
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = True
    description: str = ""

    def __post_init__(self):
        if not _COLUMN_NAME.match(self.name):
            raise ValueError(f"name: a lower_snake_case column name, got {self.name!r}")


@frozen
class TableSpec:
    """One table. ``open_schema`` tables (e.g. features) declare their key columns here and get the
    rest of their columns from the config section that generates them.

    Privacy (erasure, docs/privacy.md): ``subject_columns`` hold a data subject's user id (a row matching
    one is erased with the subject); ``[]`` declares explicitly that the table holds no per-user rows.
    ``subject_json_columns`` hold a raw record as JSON text, matched when the user id is one of its whole
    string values. ``personal_columns`` hold other personal data (keyed hashes of contact data) erased
    with the row. None of these get Delta min/max statistics, so the transaction log never holds them.
    """

    description: str
    columns: tuple[ColumnSpec, ...]
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    constraints: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    open_schema: bool = False
    subject_columns: tuple[str, ...] | None = None
    subject_json_columns: tuple[str, ...] = ()
    personal_columns: tuple[str, ...] = ()

    def __post_init__(self):
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"columns: unique column names, {duplicated} declared twice")
        for attr in ("partition_by", "key", "subject_columns", "subject_json_columns", "personal_columns"):
            missing = [c for c in getattr(self, attr) or () if c not in names]
            if missing:
                raise ValueError(f"{attr}: columns declared in 'columns', got undefined {missing}")
        if self.subject_json_columns and self.subject_columns is None:
            raise ValueError("subject_columns: declared (possibly []) when subject_json_columns are")
        private = self.private_columns
        if private and not {STATS_COLUMNS_PROPERTY, STATS_COUNT_PROPERTY} & set(self.properties):
            # Derived here, not in the catalog, so every reader of ``properties`` (create, converge) sees it.
            object.__setattr__(self, "properties", {**self.properties, **_stats_property(self, private)})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def holds_subjects(self) -> bool:
        """True when rows of this table belong to data subjects (erasure deletes them)."""
        return bool(self.subject_columns or self.subject_json_columns)

    @property
    def private_columns(self) -> tuple[str, ...]:
        """Columns that identify or describe a data subject: never in Delta statistics."""
        return (*(self.subject_columns or ()), *self.subject_json_columns, *self.personal_columns)


def _stats_property(spec: TableSpec, private: tuple[str, ...]) -> dict[str, str]:
    """Statistics on every declared column but the private and partition ones (the latter need none) and
    those of types Delta keeps no statistics for (listing one fails)."""
    kept = [
        c.name
        for c in spec.columns
        if c.name not in private and c.name not in spec.partition_by and c.type not in _NO_STATS_TYPES
    ]
    return {STATS_COLUMNS_PROPERTY: ",".join(kept)} if kept else {STATS_COUNT_PROPERTY: "0"}


def check_table_name(name: str) -> str | None:
    """Return why ``name`` is not a valid ``<layer>.<name>``, or None."""
    return None if _TABLE_NAME.match(name) else "a table name of the form <layer>.<name> in lower_snake_case"
