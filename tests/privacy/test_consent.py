"""Consent on a day and the exclusion reason: hand-worked event histories."""

from __future__ import annotations

import datetime as dt

import pytest

from userscore.catalog import declared_schema
from userscore.privacy.consent import with_exclusion_reason

DAY = dt.date(2026, 3, 1)


def _event(user: str, purpose: str, status: str, at: str) -> tuple:
    return (f"{user}-{purpose}-{status}-{at}", user, purpose, status, dt.datetime.fromisoformat(at), "b1")


EVENTS = [
    _event("granted", "marketing", "granted", "2025-01-01 10:00:00"),
    # Withdrawn during the day itself: counts (the end of DAY is the limit).
    _event("late_withdrawal", "marketing", "granted", "2025-01-01 10:00:00"),
    _event("late_withdrawal", "marketing", "withdrawn", "2026-03-01 23:59:59"),
    # Withdrawn at the first second after the day: not yet.
    _event("after_day", "marketing", "granted", "2025-01-01 10:00:00"),
    _event("after_day", "marketing", "withdrawn", "2026-03-02 00:00:00"),
    # Withdrawn, then granted again.
    _event("regranted", "marketing", "withdrawn", "2025-05-01 00:00:00"),
    _event("regranted", "marketing", "granted", "2025-07-01 00:00:00"),
    # Granted and withdrawn in the same second: a withdrawal.
    _event("same_second", "marketing", "granted", "2025-07-01 00:00:00"),
    _event("same_second", "marketing", "withdrawn", "2025-07-01 00:00:00"),
    # Only another purpose on record, granted; and withdrawn for profiling only.
    _event("other_purpose", "analytics", "granted", "2025-01-01 00:00:00"),
    _event("profiling_withdrawn", "marketing", "granted", "2025-01-01 00:00:00"),
    _event("profiling_withdrawn", "profiling", "withdrawn", "2025-02-03 04:05:06"),
]
USERS = ["granted", "late_withdrawal", "after_day", "regranted", "same_second", "other_purpose",
         "profiling_withdrawn", "no_record"]  # fmt: skip


@pytest.fixture(scope="module")
def consents(spark, catalog_spec):
    return spark.createDataFrame(EVENTS, declared_schema(catalog_spec))


@pytest.fixture(scope="module")
def catalog_spec(tmp_path_factory):
    from tests.conftest import make_config

    return make_config(tmp_path_factory.mktemp("consent")).tables["silver.consents"]


def _reasons(spark, consents, purposes, missing) -> dict[str, str | None]:
    rows = spark.createDataFrame([(u, "retention") for u in USERS], "user_id string, family string")
    got = with_exclusion_reason(rows, consents, DAY, purposes, missing).collect()
    assert sorted(got[0].asDict()) == ["exclusion_reason", "family", "user_id"]
    return {r["user_id"]: r["exclusion_reason"] for r in got}


def test_marketing_consent_on_the_day_with_missing_records_denied(spark, consents):
    assert _reasons(spark, consents, ["marketing"], "denied") == {
        "granted": None,
        "late_withdrawal": "marketing consent withdrawn 2026-03-01",
        "after_day": None,
        "regranted": None,
        "same_second": "marketing consent withdrawn 2025-07-01",
        "other_purpose": "no marketing consent on record",
        "profiling_withdrawn": None,
        "no_record": "no marketing consent on record",
    }


def test_missing_records_granted_and_two_purposes(spark, consents):
    assert _reasons(spark, consents, ["marketing", "profiling"], "granted") == {
        "granted": None,
        "late_withdrawal": "marketing consent withdrawn 2026-03-01",
        "after_day": None,
        "regranted": None,
        "same_second": "marketing consent withdrawn 2025-07-01",
        "other_purpose": None,
        "profiling_withdrawn": "profiling consent withdrawn 2025-02-03",
        "no_record": None,
    }
    denied = _reasons(spark, consents, ["marketing", "profiling"], "denied")
    assert denied["granted"] == "no profiling consent on record"
    assert denied["profiling_withdrawn"] == "profiling consent withdrawn 2025-02-03"
    assert denied["late_withdrawal"] == "marketing consent withdrawn 2026-03-01; no profiling consent on record"


def test_a_person_needs_the_consent_of_every_member(spark, consents):
    # Rows keyed by person (identity.resolve): the members' histories above decide together.
    persons = [
        ("p-all", ["granted", "after_day", "regranted"]),  # every member granted on DAY
        ("p-one", ["granted", "late_withdrawal"]),  # one member withdrew on DAY
        ("p-two", ["same_second", "no_record", "other_purpose"]),  # a withdrawal and two without a record
    ]
    rows = spark.createDataFrame(
        [(p, members, "retention") for p, members in persons],
        "user_id string, member_user_ids array<string>, family string",
    )
    got = with_exclusion_reason(rows, consents, DAY, ["marketing"], "denied").collect()
    assert {r["user_id"]: r["exclusion_reason"] for r in got} == {
        "p-all": None,
        "p-one": "marketing consent withdrawn 2026-03-01",
        # Each distinct reason once, sorted.
        "p-two": "marketing consent withdrawn 2025-07-01; no marketing consent on record",
    }
    assert sorted(got[0].asDict()) == ["exclusion_reason", "family", "member_user_ids", "user_id"]
