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
    rest of their columns from the config section that generates them."""

    description: str
    columns: tuple[ColumnSpec, ...]
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    constraints: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    open_schema: bool = False

    def __post_init__(self):
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"columns: unique column names, {duplicated} declared twice")
        for attr in ("partition_by", "key"):
            missing = [c for c in getattr(self, attr) if c not in names]
            if missing:
                raise ValueError(f"{attr}: columns declared in 'columns', got undefined {missing}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def check_table_name(name: str) -> str | None:
    """Return why ``name`` is not a valid ``<layer>.<name>``, or None."""
    return None if _TABLE_NAME.match(name) else "a table name of the form <layer>.<name> in lower_snake_case"
