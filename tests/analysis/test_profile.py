"""Basic profile distribution vs plain Python over the same rows, with hand-worked tenure bands."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.analysis.consumption_world import SCORES, USERS, D, inputs, kept, ts
from userscore.analysis import profile

DIMENSIONS = ("gender", "age_band", "region", "member_level", "registration_channel")


NO_VALUE = "(no value)"  # the test's own analysis.missing_label
# The test's own tenure bands (not conf/base's): below 61 days, below 200, below 600, the rest.
BANDS = (("new", 61), ("young", 200), ("settled", 600))
SETTINGS = {
    "analysis": {
        "missing_label": NO_VALUE,
        "profile": {"tenure_bands": [{"name": n, "max_days": d} for n, d in BANDS] + [{"name": "veteran"}]},
    }
}


def _tenure(registered: str) -> str:
    days = (D - ts(registered).date()).days
    for name, below in BANDS:
        if days < below:
            return name
    return "veteran"


@pytest.fixture(scope="module")
def rows(spark, tmp_path_factory):
    from tests.conftest import make_config

    config = make_config(tmp_path_factory.mktemp("p"), SETTINGS)
    output = profile.analyse(inputs(spark, config), config)
    return [r.asDict() for r in output.tables["analysis.profile_distribution"].collect()]


def test_tenure_bands_hand_worked():
    # D = 2026-06-01: u1 31 days, u6 61 (a band's max_days is exclusive: young), u4 151, u5 273, u2 502,
    # u3 1188 days after registration.
    assert [_tenure(u[1]) for u in USERS] == ["new", "settled", "veteran", "young", "settled", "young"]


def test_profile_distribution_vs_plain_python(rows):
    spend = defaultdict(float)
    for o in kept():
        spend[o["user_id"]] += o["amount"]
    users = {u[0]: dict(zip(DIMENSIONS, u[2:], strict=True)) | {"tenure_band": _tenure(u[1])} for u in USERS}
    cells = defaultdict(lambda: [0, 0.0])
    groups = defaultdict(lambda: [0, 0.0])
    for user, _, _, grade, churn_tier in SCORES:
        for breakdown in (("all", "all"), ("grade", grade), ("churn_tier", churn_tier or NO_VALUE)):
            for dimension, value in users[user].items():
                key = (dimension, value or NO_VALUE, *breakdown)
                cells[key][0] += 1
                cells[key][1] += spend[user]
                groups[(dimension, *breakdown)][0] += 1
                groups[(dimension, *breakdown)][1] += spend[user]
    got = {(r["dimension"], r["value"], r["breakdown"], r["breakdown_value"]): r for r in rows}
    assert set(got) == set(cells)
    assert {r["as_of_date"] for r in rows} == {D}
    for key, (n, value) in cells.items():
        total_users, total_value = groups[(key[0], *key[2:])]
        row = got[key]
        assert (row["users"], row["share"]) == (n, pytest.approx(n / total_users)), key
        assert row["spend"] == pytest.approx(value), key
        assert row["spend_share"] == (pytest.approx(value / total_value) if total_value else None), key


def test_profile_hand_worked_cells(rows):
    got = {(r["dimension"], r["value"], r["breakdown"], r["breakdown_value"]): r for r in rows}
    # Grade A = u1 (female, spend 60) and u2 (male, spend 70).
    female_a = got[("gender", "female", "grade", "A")]
    assert (female_a["users"], female_a["share"], female_a["spend"]) == (1, 0.5, 60.0)
    assert female_a["spend_share"] == pytest.approx(60 / 130)
    # u3 has no gender: its own value; grade D (u5, u6) has no kept spend, so no spend share.
    assert got[("gender", NO_VALUE, "all", "all")]["users"] == 1
    assert got[("region", "north", "grade", "D")]["spend_share"] is None
    # Tenure over everyone (the test's bands): young = u4 and u6, veteran = u3 alone, of six users.
    assert got[("tenure_band", "young", "all", "all")]["share"] == pytest.approx(2 / 6)
    assert got[("tenure_band", "veteran", "all", "all")]["users"] == 1
