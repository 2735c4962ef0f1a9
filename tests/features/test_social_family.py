"""The social family: the social run's per-user measures joined into the snapshot (userscore.features.social).

Hand-written social runs around D; the expected rows are read off them: the latest run at or before the
snapshot date, prefixed, 0 and false for users without a row there.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.features.conftest import scenario_job, spec_config
from tests.features.silver import D
from userscore.catalog import declared_schema
from userscore.config.features import SocialFeaturesConfig
from userscore.errors import InputError
from userscore.features.social import with_social

TABLE = "social.user_social"
COLUMNS = ("influence_percentile", "followers", "reach_2hop", "kol", "community_hub")
WEEK = dt.timedelta(days=7)


def run_row(as_of: dt.date, user_id: str, percentile: float, followers: int, kol: bool, hub: bool) -> dict:
    """A social.user_social row with the measures the tests read; the rest at plain values."""
    return {
        "as_of_date": as_of, "user_id": user_id, "influence": percentile / 10, "influence_percentile": percentile,
        "in_degree": followers, "out_degree": 1, "followers": followers, "reach_2hop": 2 * followers,
        "invitees": 0, "invitee_conversions": 0, "share_orders": 0, "community_id": user_id,
        "community_size": 1, "community_value": 0.0, "kol": kol, "community_hub": hub,
    }  # fmt: skip


RUNS = [
    run_row(D - WEEK, "u1", 0.5, 2, False, False),
    run_row(D, "u1", 0.9, 3, True, False),
    run_row(D, "u2", 0.1, 0, False, True),
    run_row(D + WEEK, "u1", 0.99, 9, True, True),  # after D: never read for D
]


def social_frame(spark, config, rows):
    schema = declared_schema(config.tables[TABLE])
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def expected(values: dict[str, tuple]) -> dict[str, tuple]:
    """Per user of u1..u3: the (prefixed) social columns, the defaults for users not listed."""
    return {u: values.get(u, (0.0, 0, 0, False, False)) for u in ("u1", "u2", "u3")}


def test_the_latest_run_at_or_before_the_date_with_defaults_for_users_without_a_row(spark, features_config):
    social = social_frame(spark, features_config, RUNS)
    users = spark.createDataFrame([("u1",), ("u2",), ("u3",)], "user_id string")
    family = SocialFeaturesConfig(table=TABLE, columns=COLUMNS, prefix="s_")
    names = [f"s_{c}" for c in COLUMNS]

    def joined(as_of):
        rows = with_social(users, social, as_of, family).collect()
        return {r["user_id"]: tuple(r[c] for c in names) for r in rows}

    at_d = expected({"u1": (0.9, 3, 6, True, False), "u2": (0.1, 0, 0, False, True)})
    assert joined(D) == at_d
    assert joined(D + dt.timedelta(days=3)) == at_d  # between runs (the live rescoring): the run at D
    assert joined(D - WEEK) == expected({"u1": (0.5, 2, 4, False, False)})
    assert joined(D - WEEK - dt.timedelta(days=1)) == expected({})  # no run yet


def test_the_job_needs_the_social_run_at_every_date_and_joins_it(spark, tmp_path):
    family = {"table": TABLE, "columns": list(COLUMNS), "prefix": "social_"}
    config = spec_config(tmp_path, {"features": {"social": family}})
    catalog, run = scenario_job(spark, config)

    with pytest.raises(InputError, match=f"no social run in {TABLE} at {D}: .* run `userscore social`"):
        run(["--as-of", str(D)])  # before the first social run: the table does not exist yet
    catalog.append(TABLE, social_frame(spark, config, RUNS[1:3]))
    with pytest.raises(InputError, match=f"no social run in {TABLE} at {D - WEEK}: .* nothing written"):
        run(["--from", str(D - WEEK), "--to", str(D), "--every", "7d"])
    assert not catalog.exists("features.user_features")

    run(["--as-of", str(D)])
    features = catalog.read("features.user_features")
    columns = features.columns
    # After the generic families, before the customer-base (BG/NBD) columns.
    assert columns.index("social_community_hub") + 1 == columns.index("bgnbd_x")
    assert columns.index("social_influence_percentile") == columns.index("service_contacts_365d") + 1
    got = {r["user_id"]: tuple(r[f"social_{c}"] for c in COLUMNS) for r in features.collect()}
    # The scenario's users registered before D: u1 and u2 have rows in the run at D, the others not.
    defaults = (0.0, 0, 0, False, False)
    assert got == {
        "u1": (0.9, 3, 6, True, False), "u2": (0.1, 0, 0, False, True),
        **dict.fromkeys(("u3", "u4", "u7", "u8", "u9"), defaults),
    }  # fmt: skip
