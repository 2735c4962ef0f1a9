"""Hand-made identity inputs shared by the identity tests."""

from __future__ import annotations

import datetime as dt

from userscore.config.identity import IdentityConfig, IdTypeLimits

T0 = dt.datetime(2026, 1, 1)


def at(day: int) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


CONFIG = IdentityConfig(
    id_types={
        "member": IdTypeLimits(max_users_per_value=2, max_per_person=1),
        "phone": IdTypeLimits(max_users_per_value=3, max_per_person=2),
        "email": IdTypeLimits(max_users_per_value=3, max_per_person=3),
        "device": IdTypeLimits(max_users_per_value=3, max_per_person=8),
    },
    links_table="silver.identity_links",
    profiles_table="silver.users",
    profile_identifiers={"phone_hash": "phone"},
    max_person_users=5,
    max_component_users=100,
    resolve=False,
    person_map_table="identity.person_map",
    dropped_links_table="identity.dropped_links",
    changes_table="identity.person_changes",
)

# (user, id type, value, linked day). u1+u2: one person by phone P1 (u10 joins by device D2); u3..u6 share
# the store tablet T (4 users > 3: shared); u4+u5 share phone P4; u7 and u8 are different members whom the
# recycled phone P7 would join; u9 has no identifier.
EDGES = [
    ("u1", "member", "m1", 1), ("u1", "phone", "P1", 1), ("u2", "phone", "P1", 2), ("u2", "device", "D2", 2),
    ("u10", "device", "D2", 4),
    ("u3", "device", "T", 3), ("u4", "device", "T", 3), ("u5", "device", "T", 4), ("u6", "device", "T", 5),
    ("u3", "member", "m3", 1), ("u4", "member", "m4", 1), ("u4", "phone", "P4", 1), ("u5", "phone", "P4", 2),
    ("u7", "member", "m7", 1), ("u7", "phone", "P7", 1), ("u8", "member", "m8", 1), ("u8", "phone", "P7", 5),
]  # fmt: skip
USERS = [f"u{i}" for i in range(1, 11)]


def edge_frame(spark, edges=EDGES):
    return spark.createDataFrame(
        [(u, t, v, at(d)) for u, t, v, d in edges],
        "user_id string, id_type string, id_value string, linked_at timestamp",
    )


def user_frame(spark, users=USERS):
    return spark.createDataFrame([(u,) for u in users], "user_id string")
