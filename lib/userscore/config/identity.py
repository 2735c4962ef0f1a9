"""Config section ``identity``: identity stitching and its merge protection (conf/base/identity.yaml,
docs/identity.md).

``links_table`` / ``profiles_table``: the inputs; ``id_types`` in priority order (highest first), each
with the users one value may link before it counts as shared and the values one person may hold;
``profile_identifiers`` maps profile columns to id types; ``max_person_users`` caps a person's user ids;
a group of more than ``max_component_users`` user ids is not stitched at all; ``resolve`` keys the
per-user stages by person (userscore.persons).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from userscore.config.tables import TableSpec
from userscore.config.typed import Count, KeyPath, frozen


@frozen
class IdTypeLimits:
    max_users_per_value: Count
    max_per_person: Count


@frozen
class IdentityConfig:
    id_types: Mapping[str, IdTypeLimits]
    links_table: str
    profiles_table: str
    profile_identifiers: Mapping[str, str]
    max_person_users: Count
    max_component_users: Count
    resolve: bool
    person_map_table: str
    dropped_links_table: str
    changes_table: str

    def __post_init__(self):
        if not self.id_types:
            raise ValueError("id_types: at least one identifier type, in priority order")
        unknown = sorted({t for t in self.profile_identifiers.values() if t not in self.id_types})
        if unknown:
            raise ValueError(f"profile_identifiers: id types of id_types ({list(self.id_types)}), got {unknown}")
        if self.max_component_users < self.max_person_users:
            raise ValueError(
                f"max_component_users: at least max_person_users ({self.max_person_users}), "
                f"got {self.max_component_users}"
            )

    @property
    def priority(self) -> dict[str, int]:
        """id type -> rank, 0 the highest priority."""
        return {name: rank for rank, name in enumerate(self.id_types)}

    @property
    def tables(self) -> tuple[str, str, str]:
        return self.person_map_table, self.dropped_links_table, self.changes_table


LINK_COLUMNS = ("user_id", "id_type", "id_value", "linked_at")


def reference_errors(
    identity: IdentityConfig, tables: Mapping[str, TableSpec], links_allowed: tuple[str, ...] | None
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undeclared tables and columns, and link types ingest admits (``links_allowed``; None: any) that
    have no limits here (they would join people without protection)."""
    for key in ("links_table", "profiles_table", "person_map_table", "dropped_links_table", "changes_table"):
        name = getattr(identity, key)
        if name not in tables:
            yield ("identity", key), f"undefined table {name!r}", f"one of {sorted(tables)}"
    if identity.links_table in tables:
        columns = tables[identity.links_table].column_names
        for column in LINK_COLUMNS:
            if column not in columns:
                yield (
                    ("identity", "links_table"),
                    f"{identity.links_table} has no column {column!r}",
                    f"columns {list(LINK_COLUMNS)}",
                )
    if identity.profiles_table in tables:
        columns = tables[identity.profiles_table].column_names
        for column in ("user_id", "registered_at", *identity.profile_identifiers):
            if column not in columns:
                yield (
                    ("identity", "profile_identifiers"),
                    f"undefined column {column!r} of {identity.profiles_table}",
                    f"one of {list(columns)}",
                )
    if links_allowed is None:
        yield (
            ("identity", "links_table"),
            f"the ingest source of {identity.links_table} admits any id_type",
            "an allowed.id_type rule, so that every linked type has limits here",
        )
    for id_type in links_allowed or ():
        if id_type not in identity.id_types:
            yield (
                ("identity", "id_types"),
                f"no limits for id type {id_type!r}, which ingest admits",
                "limits for every id type of the identity links",
            )
