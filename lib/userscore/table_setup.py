"""How an existing Delta table differs from its declaration (conf ``tables``), and what set-up must add.

Creating a table takes several commits (the table with its columns, partitioning and properties, then
one per CHECK constraint), so a killed run can leave a table without some of its constraints; a
property declared later is missing from older tables. Both are *missing* and are added on the next run.
What cannot be added without changing data or meaning is a *conflict*, reported before any write: a
constraint of the same name with another expression, a property with another value, a declared column
that is missing or has another type, an undeclared column in a closed-schema table, other partitioning.
Constraints on the table that conf does not declare are left alone (they only reject more rows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import types as T

from userscore.config import TableSpec
from userscore.config.tables import STATS_COLUMNS_PROPERTY, STATS_COUNT_PROPERTY

CONSTRAINT_PREFIX = "delta.constraints."
DERIVED_PROPERTIES = (STATS_COLUMNS_PROPERTY, STATS_COUNT_PROPERTY)
# Single-quoted SQL string literals (with backslash escapes): their case and spacing are data.
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


@dataclass(frozen=True)
class TableDrift:
    """What set-up must add to a table, what it cannot reconcile, and what it leaves alone."""

    missing_constraints: Mapping[str, str]
    missing_properties: Mapping[str, str]
    conflicts: tuple[str, ...]
    undeclared_constraints: tuple[str, ...] = ()

    @property
    def in_order(self) -> bool:
        return not (self.missing_constraints or self.missing_properties or self.conflicts)


def normalized_expression(expression: str) -> str:
    """A CHECK expression compared the way Delta stores it: runs of spaces collapsed (Delta does so),
    keywords and names case-insensitive, string literals exact."""
    parts, last = [], 0
    for match in _LITERAL.finditer(expression):
        parts += [_plain(expression[last : match.start()]), match.group(0)]
        last = match.end()
    parts.append(_plain(expression[last:]))
    return "".join(parts).strip()


def _plain(text: str) -> str:
    """SQL text outside literals: lower-cased, runs of whitespace as one space (kept at the ends)."""
    return re.sub(r"\s+", " ", text.lower())


def table_drift(
    spec: TableSpec,
    declared: T.StructType,
    schema: T.StructType,
    properties: Mapping[str, str],
    partition_columns: Sequence[str],
) -> TableDrift:
    """Compare an existing table (its schema, properties incl. ``delta.constraints.*``, partitioning)
    with ``spec`` and its ``declared`` schema."""
    conflicts: list[str] = []
    actual = {f.name: f.dataType for f in schema.fields}
    for field in declared.fields:
        if field.name not in actual:
            conflicts.append(
                f"declared column {field.name} ({field.dataType.simpleString()}) is missing (the table predates "
                "it: move the table away and re-run what writes it, e.g. re-ingest its batches)"
            )
        elif actual[field.name] != field.dataType:
            conflicts.append(
                f"column {field.name} is {actual[field.name].simpleString()}, declared {field.dataType.simpleString()}"
            )
    if not spec.open_schema:
        names = set(declared.fieldNames())
        conflicts += [f"column {name} is not declared" for name in actual if name not in names]
    if list(partition_columns) != list(spec.partition_by):
        conflicts.append(f"partitioned by {list(partition_columns)}, declared {list(spec.partition_by)}")

    existing = {k[len(CONSTRAINT_PREFIX) :]: v for k, v in properties.items() if k.startswith(CONSTRAINT_PREFIX)}
    missing_constraints: dict[str, str] = {}
    for name, expression in spec.constraints.items():
        # Delta keys constraints by their lower-cased name.
        found = existing.get(name.lower())
        if found is None:
            missing_constraints[name] = expression
        elif normalized_expression(found) != normalized_expression(expression):
            conflicts.append(f"constraint {name} is CHECK ({found}), declared CHECK ({expression})")
    declared_names = {n.lower() for n in spec.constraints}
    undeclared = tuple(sorted(n for n in existing if n not in declared_names))

    missing_properties: dict[str, str] = {}
    for key, value in spec.properties.items():
        # Which columns get statistics follows the declared columns (it changes with them) and only decides
        # what Delta records from then on: it is brought up to date, never a conflict.
        if key not in properties or (key in DERIVED_PROPERTIES and properties[key] != value):
            missing_properties[key] = value
        elif properties[key] != value:
            conflicts.append(f"property {key} is {properties[key]!r}, declared {value!r}")
    return TableDrift(missing_constraints, missing_properties, tuple(conflicts), undeclared)
