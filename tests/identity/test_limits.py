"""The greedy per-person limits (userscore.identity.limits), on hand-worked groups of links."""

from __future__ import annotations

from dataclasses import replace

from userscore.config.identity import IdentityConfig, IdTypeLimits
from userscore.identity.limits import Link, resolve_group

CONFIG = IdentityConfig(
    id_types={
        "member": IdTypeLimits(max_users_per_value=2, max_per_person=1),
        "phone": IdTypeLimits(max_users_per_value=3, max_per_person=2),
        "device": IdTypeLimits(max_users_per_value=3, max_per_person=8),
    },
    links_table="silver.identity_links",
    profiles_table="silver.users",
    profile_identifiers={},
    max_person_users=5,
    max_component_users=100,
    resolve=False,
    person_map_table="identity.person_map",
    dropped_links_table="identity.dropped_links",
    changes_table="identity.person_changes",
)


def test_a_recycled_phone_does_not_join_two_member_card_holders():
    # Members first (priority), then the phone: A-P joins A's person (1 phone), B-P would give a person with
    # two member ids: dropped, although B linked the phone... later (t=3) than A (t=2).
    links = [
        Link("B", "phone", "P", 3),
        Link("A", "member", "mA", 1),
        Link("A", "phone", "P", 2),
        Link("B", "member", "mB", 1),
    ]
    resolved = resolve_group(links, CONFIG)
    assert resolved.person_of == {"A": "A", "B": "B"}
    assert resolved.dropped == [
        (Link("B", "phone", "P", 3), "person_limit", "the person would hold 2 member values (max_per_person 1)")
    ]


def test_priority_beats_link_time():
    # The device links are the oldest, but devices come after phones: A and C join by phone P, B holds Q;
    # then device D joins B's person to A's: 2 phones, within the limit of 2.
    links = [Link("B", "device", "D", 0), Link("A", "device", "D", 0), Link("A", "phone", "P", 5)]
    links += [Link("C", "phone", "P", 6), Link("B", "phone", "Q", 7)]
    assert resolve_group(links, CONFIG).person_of == {"A": "A", "B": "A", "C": "A"}
    # One phone per person: A-D comes before B-D (same time, user id order), so D joins A's person; B-D
    # would make a person with phones P and Q and is the link refused, never the higher-priority phone links.
    one_phone = replace(
        CONFIG, id_types={**CONFIG.id_types, "phone": IdTypeLimits(max_users_per_value=3, max_per_person=1)}
    )
    resolved = resolve_group(links, one_phone)
    assert resolved.person_of == {"A": "A", "B": "B", "C": "A"}
    assert [(k.user_id, k.id_value, reason) for k, reason, _ in resolved.dropped] == [("B", "D", "person_limit")]


def test_the_person_size_cap_drops_the_latest_joining_link():
    few = replace(CONFIG, max_person_users=2)
    links = [Link(u, "device", "D", t) for u, t in (("X", 3), ("Y", 1), ("Z", 2))]
    resolved = resolve_group(links, few)
    assert resolved.person_of == {"X": "X", "Y": "Y", "Z": "Y"}
    assert resolved.dropped == [
        (Link("X", "device", "D", 3), "person_users", "the person would hold 3 user ids (max_person_users 2)")
    ]


def test_a_users_own_second_member_id_is_dropped_and_values_already_held_are_free():
    links = [Link("A", "member", "m1", 1), Link("A", "member", "m2", 2), Link("A", "member", "m1", 1)]
    resolved = resolve_group(links, CONFIG)
    assert resolved.person_of == {"A": "A"}
    assert [(k.id_value, reason) for k, reason, _ in resolved.dropped] == [("m2", "person_limit")]
