"""Features keyed by person (identity.resolve): the job's snapshot equals the plain-Python reference over the
same silver rows with each user id replaced by its person's id by hand, one profile per person (its
first-registered member's)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from tests.features.conftest import scenario_job, spec_config
from tests.features.reference import reference
from tests.features.silver import D, Silver, scenario
from userscore.errors import InputError
from userscore.features import feature_columns

MAP_TABLE = "identity.person_map"
# The identity run at D - 3 (in force at D): u1 + u2 one person, u8 + u9 another, u3 and u7 alone. u4
# registered after that run (at D - 1 day): the run does not know it, so it stays its own key.
PERSONS = {"u1": "p-a", "u2": "p-a", "u8": "p-b", "u9": "p-b", "u3": "p-3", "u7": "p-7"}
# An older run (D - 10), not in force at D: a map that would key differently if it were read.
OLDER = {"u1": "p-old", "u2": "p-old2", "u3": "p-old", "u7": "p-7", "u8": "p-b", "u9": "p-b"}


def by_hand(silver: Silver, persons: dict[str, str]) -> Silver:
    """``silver`` keyed by person in plain Python: rows renamed; per person the user row registered first."""

    def renamed(rows):
        return [{**r, "user_id": persons.get(r["user_id"], r["user_id"])} for r in rows]

    first: dict[str, dict] = {}
    for u in sorted(renamed(silver.users), key=lambda u: u["registered_at"]):
        first.setdefault(u["user_id"], u)
    return Silver(list(first.values()), renamed(silver.orders), renamed(silver.events), renamed(silver.level_changes))


def map_rows(run: dt.date, persons: dict[str, str]) -> list[tuple]:
    sizes = {p: list(persons.values()).count(p) for p in persons.values()}
    return [(run, u, p, sizes[p]) for u, p in persons.items()]


@pytest.fixture
def resolved(spark, tmp_path):
    return scenario_job(spark, spec_config(tmp_path, {"identity": {"resolve": True}}))


def test_no_identity_run_at_or_before_the_first_date_fails_before_any_write(spark, resolved):
    catalog, run = resolved
    schema = "as_of_date date, user_id string, person_id string, person_users int"
    catalog.append(MAP_TABLE, spark.createDataFrame(map_rows(D - dt.timedelta(days=3), PERSONS), schema))
    with pytest.raises(InputError, match=f"identity.resolve is on but {MAP_TABLE} has no identity run at or before "):
        run(["--from", str(D - dt.timedelta(days=7)), "--to", str(D), "--every", "7d"])
    assert not catalog.exists("features.user_features")


def test_the_snapshot_is_the_reference_over_rows_keyed_by_person_by_hand(spark, resolved):
    catalog, run = resolved
    config = catalog.config
    schema = "as_of_date date, user_id string, person_id string, person_users int"
    for run_date, persons in ((D - dt.timedelta(days=10), OLDER), (D - dt.timedelta(days=3), PERSONS)):
        catalog.append(MAP_TABLE, spark.createDataFrame(map_rows(run_date, persons), schema))
    run(["--as-of", str(D)])

    features = catalog.read("features.user_features")
    members = {r["user_id"]: r["member_user_ids"] for r in features.select("user_id", "member_user_ids").collect()}
    # u4 is no member of the map: its own key, its own (sorted) member list. u5, u6 registered at or after D.
    assert members == {
        "p-a": ["u1", "u2"], "p-b": ["u8", "u9"], "p-3": ["u3"], "p-7": ["u7"], "u4": ["u4"],
    }  # fmt: skip
    columns = ["user_id", *feature_columns(config.features)]
    actual = features.select(*columns)
    doubles = {f.name for f in actual.schema.fields if isinstance(f.dataType, T.DoubleType)}
    rows = reference(by_hand(scenario(), PERSONS), D)
    typed = [Row(**{c: float(r[c]) if c in doubles and r[c] is not None else r[c] for c in columns}) for r in rows]
    assertDataFrameEqual(actual, spark.createDataFrame(typed, actual.schema), rtol=1e-9)
