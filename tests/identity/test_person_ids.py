"""Stable person ids and the change log (userscore.identity.person_ids), hand-worked."""

from __future__ import annotations

import datetime as dt
import hashlib

from userscore.identity.person_ids import assign_person_ids

D = dt.date(2026, 3, 1)


def new_id(key: str) -> str:
    return "p-" + hashlib.sha256(f"{key}|{D.isoformat()}".encode()).hexdigest()[:16]


def test_majority_keeps_the_id_and_the_change_log_says_what_moved(spark):
    previous = {
        "a": "P1",
        "b": "P1",
        "c": "P1",
        "d": "P2",
        "e": "P2",
        "f": "P3",
        "g": "P3",
        "i": "P4",
        "j": "P5",
        "k": "P5",
    }
    now = {"a": "a", "b": "a", "c": "c", "d": "c", "e": "c", "f": "f", "g": "g", "h": "h", "i": "i", "j": "i", "k": "i"}
    result = assign_person_ids(
        spark.createDataFrame(list(now.items()), "user_id string, person_key string"),
        spark.createDataFrame(list(previous.items()), "user_id string, person_id string"),
        D,
    )
    ids = {r["user_id"]: (r["person_id"], r["person_users"]) for r in result.person_map.collect()}
    assert ids == {
        "a": ("P1", 2), "b": ("P1", 2),  # 2 of P1's 3 user ids: P1's majority
        "c": ("P2", 3), "d": ("P2", 3), "e": ("P2", 3),  # all of P2 (1 of 3 of P1: no claim on P1)
        "f": (new_id("f"), 1), "g": (new_id("g"), 1),  # P3 split in halves: no majority, new ids
        "h": (new_id("h"), 1),  # a new user id
        "i": ("P5", 3), "j": ("P5", 3), "k": ("P5", 3),  # majority of P4 (1/1) and of P5 (2/2): P5 shares more
    }  # fmt: skip
    changes = sorted(
        tuple(r) for r in result.changes.select("person_id", "change", "previous_person_id", "users").collect()
    )
    assert changes == sorted(
        [
            ("P2", "split", "P1", 1),  # c left P1, which kept its id
            (new_id("f"), "split", "P3", 1),
            (new_id("g"), "split", "P3", 1),
            (new_id("h"), "new", None, 1),
            ("P5", "merge", "P4", 1),  # P4 (i) merged into P5
        ],
        key=str,
    )


def test_first_run_and_rerun_give_the_same_ids(spark):
    persons = spark.createDataFrame([("a", "a"), ("b", "a"), ("c", "c")], "user_id string, person_key string")
    first = assign_person_ids(persons, None, D)
    assert sorted(tuple(r) for r in first.person_map.collect()) == [
        ("a", new_id("a"), 2), ("b", new_id("a"), 2), ("c", new_id("c"), 1)
    ]  # fmt: skip
    assert sorted(tuple(r) for r in first.changes.collect()) == [
        (new_id("a"), "new", None, 2),
        (new_id("c"), "new", None, 1),
    ]
    # The next run with the same persons keeps every id and logs no change.
    again = assign_person_ids(persons, first.person_map.select("user_id", "person_id"), dt.date(2026, 4, 1))
    assert sorted(tuple(r) for r in again.person_map.collect()) == sorted(tuple(r) for r in first.person_map.collect())
    assert again.changes.collect() == []
