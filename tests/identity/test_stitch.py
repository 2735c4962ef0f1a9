"""Persons from identifier edges (userscore.identity.stitch, links): hand-worked expectations."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tests.identity.conftest import CONFIG, at, edge_frame, user_frame
from userscore.identity.links import identifier_edges
from userscore.identity.stitch import stitch

SHARED = "device linked to 4 user ids (max_users_per_value 3)"


def _persons(stitched) -> dict[str, str]:
    return {r["user_id"]: r["person_key"] for r in stitched.persons.collect()}


def _dropped(stitched) -> set[tuple]:
    return {tuple(r) for r in stitched.dropped.collect()}


def test_shared_values_limits_and_untouched_groups(spark):
    stitched = stitch(user_frame(spark), edge_frame(spark), CONFIG)
    assert _persons(stitched) == {
        "u1": "u1", "u2": "u1", "u10": "u1",  # phone P1 and device D2: one person, within every limit
        "u3": "u3", "u6": "u6",  # the tablet links nobody
        "u4": "u4", "u5": "u4",  # phone P4
        "u7": "u7", "u8": "u8",  # two member cards: the later phone link is refused
        "u9": "u9",  # no identifier
    }  # fmt: skip
    assert _dropped(stitched) == {
        *((u, "device", "T", "shared_value", SHARED) for u in ("u3", "u4", "u5", "u6")),
        ("u8", "phone", "P7", "person_limit", "the person would hold 2 member values (max_per_person 1)"),
    }


def test_a_group_above_max_component_users_is_not_stitched(spark):
    small = replace(CONFIG, max_person_users=2, max_component_users=2)
    stitched = stitch(user_frame(spark), edge_frame(spark), small)
    persons = _persons(stitched)
    assert [persons[u] for u in ("u1", "u2", "u10", "u4", "u5", "u7", "u8")] == [
        "u1",
        "u2",
        "u10",
        "u4",
        "u4",
        "u7",
        "u8",
    ]
    too_large = "a group of 3 user ids joined by identifiers (max_component_users 2)"
    assert {d for d in _dropped(stitched) if d[3] == "component_too_large"} == {
        ("u1", "member", "m1", "component_too_large", too_large),
        ("u1", "phone", "P1", "component_too_large", too_large),
        ("u2", "phone", "P1", "component_too_large", too_large),
        ("u2", "device", "D2", "component_too_large", too_large),
        ("u10", "device", "D2", "component_too_large", too_large),
    }


def test_identifier_edges_at_a_date(spark):
    profiles = spark.createDataFrame(
        [("a", at(0), "PA"), ("b", at(2), None), ("late", at(20), "PL")],
        "user_id string, registered_at timestamp, phone_hash string",
    )
    links = spark.createDataFrame(
        [
            ("a", "phone", "PA", at(5)),  # also on the profile: one edge, the earlier time (registration)
            ("a", "device", "D", None),  # no time: known from registration
            ("b", "device", "D", at(9)),
            ("b", "email", "E", at(10)),  # linked on D: not before it
            ("late", "device", "D", at(1)),  # registered after D
            ("b", "email", " ", at(3)),  # blank value
        ],
        "user_id string, id_type string, id_value string, linked_at timestamp",
    )
    edges = identifier_edges(links, profiles, CONFIG, dt.date(2026, 1, 11))
    assert sorted(tuple(r) for r in edges.collect()) == [
        ("a", "device", "D", at(0)),
        ("a", "phone", "PA", at(0)),
        ("b", "device", "D", at(9)),
    ]
