"""Merge protection, second step: inside a group of user ids that would break a per-person limit, link
greedily in priority order and drop each link that would break one.

The greedy pass is sequential by nature (whether a link is accepted depends on the ones before it), so it
runs per group, in parallel over groups: only the few groups that break a limit get here, each small
(the shared-value step and ``max_component_users`` bound them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from userscore.config.identity import IdentityConfig


@dataclass(frozen=True)
class Link:
    user_id: str
    id_type: str
    id_value: str
    linked_at: object  # any ordered value; earlier links win ties of priority


@dataclass
class _Group:
    users: set[str]
    values: dict[str, int] = field(default_factory=dict)  # id type -> distinct values held


@dataclass(frozen=True)
class Resolved:
    person_of: dict[str, str]  # user id -> smallest user id of its person
    dropped: list[tuple[Link, str, str]]  # (link, reason, detail)


def resolve_group(links: Iterable[Link], config: IdentityConfig) -> Resolved:
    """Union the user ids of ``links`` link by link, highest priority type first, then earliest linked
    (then user id and value, for determinism); a link whose union would give a person more distinct values
    of a type than ``max_per_person`` allows (``person_limit``) or more user ids than ``max_person_users``
    (``person_users``) is dropped."""
    priority = config.priority
    ordered = sorted(links, key=lambda k: (priority[k.id_type], k.linked_at, k.user_id, k.id_value))
    parent: dict[tuple[str, str], tuple[str, str]] = {}
    groups: dict[tuple[str, str], _Group] = {}

    def find(node: tuple[str, str]) -> tuple[str, str]:
        if node not in parent:
            parent[node] = node
            # A user id (type "") holds itself; a value holds one value of its type.
            groups[node] = _Group({node[1]}) if node[0] == "" else _Group(set(), {node[0]: 1})
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    dropped: list[tuple[Link, str, str]] = []
    for link in ordered:
        user_root = find(("", link.user_id))  # user ids live in type "" so they never meet a value
        value_root = find((link.id_type, link.id_value))
        if user_root == value_root:
            continue
        a, b = groups[user_root], groups[value_root]
        problem = _broken_limit(a, b, config)
        if problem:
            dropped.append((link, *problem))
            continue
        parent[value_root] = user_root
        a.users |= b.users
        for id_type, count in b.values.items():
            a.values[id_type] = a.values.get(id_type, 0) + count
        del groups[value_root]
    person_of = {}
    for node in list(parent):
        if node[0] == "":
            person_of[node[1]] = min(groups[find(node)].users)
    return Resolved(person_of, dropped)


def _broken_limit(a: _Group, b: _Group, config: IdentityConfig) -> tuple[str, str] | None:
    users = len(a.users) + len(b.users)
    if users > config.max_person_users:
        return "person_users", f"the person would hold {users} user ids (max_person_users {config.max_person_users})"
    for id_type, limits in config.id_types.items():
        count = a.values.get(id_type, 0) + b.values.get(id_type, 0)
        if count > limits.max_per_person:
            return "person_limit", (
                f"the person would hold {count} {id_type} values (max_per_person {limits.max_per_person})"
            )
    return None


RESOLVED_SCHEMA = "user_id string, person_key string, id_type string, id_value string, reason string, detail string"


def resolve_frame(rows: pd.DataFrame, config: IdentityConfig) -> pd.DataFrame:
    """``resolve_group`` over one group's rows (user_id, id_type, id_value, linked_at) for applyInPandas:
    one row per user id (person_key set) and one per dropped link (reason set)."""
    links = [Link(*r) for r in rows[["user_id", "id_type", "id_value", "linked_at"]].itertuples(index=False)]
    resolved = resolve_group(links, config)
    persons = [(u, p, None, None, None, None) for u, p in resolved.person_of.items()]
    dropped = [(k.user_id, None, k.id_type, k.id_value, reason, detail) for k, reason, detail in resolved.dropped]
    return pd.DataFrame(persons + dropped, columns=[c.split()[0] for c in RESOLVED_SCHEMA.split(", ")])
