"""`userscore identity --as-of D` end to end on hand-made silver tables: the person map, dropped links and
change log of two run dates, a re-run, and missing input."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest

from tests.conftest import REPO, TEST_SETS, make_config
from tests.identity.conftest import EDGES, USERS, at
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main

D1, D2 = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
IDENTITY_TABLES = ("identity.person_map", "identity.dropped_links", "identity.person_changes")


def new_id(key: str, as_of: dt.date) -> str:
    return "p-" + hashlib.sha256(f"{key}|{as_of.isoformat()}".encode()).hexdigest()[:16]


@pytest.fixture
def setup(spark, tmp_path):
    config = make_config(tmp_path)
    catalog = Catalog(spark, config)
    # u1..u10 registered on day 0; "late" registers after D1. Only u9's profile holds a phone (unshared).
    profiles = [(u, at(0), "PHONE9" if u == "u9" else None) for u in USERS] + [("late", at(40), None)]
    users = spark.createDataFrame(
        [(u, t, None, None, None, None, "basic", phone, None, t, "b1") for u, t, phone in profiles],
        declared_schema(config.tables["silver.users"]),
    )
    catalog.append("silver.users", users)
    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp_path}/warehouse", *TEST_SETS]
    return catalog, sets


def _links(spark, catalog, edges):
    rows = [(f"l{i}", u, t, v, at(d), "b1") for i, (u, t, v, d) in enumerate(edges)]
    schema = declared_schema(catalog.config.tables["silver.identity_links"])
    catalog.overwrite_where("silver.identity_links", spark.createDataFrame(rows, schema), {"ingest_batch_id": "b1"})


def _run(capsys, argv) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().out


def _table(catalog, name, as_of) -> list[tuple]:
    rows = catalog.read(name).where(f"as_of_date = '{as_of}'").drop("as_of_date").collect()
    return sorted((tuple(r) for r in rows), key=str)


def test_two_runs_a_rerun_and_what_changed(spark, setup, capsys):
    catalog, sets = setup
    _links(spark, catalog, EDGES)
    code, out = _run(capsys, ["identity", "--as-of", str(D1), *sets])
    assert code == 0, out
    # Persons as in tests/identity/test_stitch.py (u9's profile phone links it to nobody; "late" is not there).
    keys = {"u1": "u1", "u2": "u1", "u10": "u1", "u3": "u3", "u4": "u4", "u5": "u4", "u6": "u6", "u7": "u7"}
    keys |= {"u8": "u8", "u9": "u9"}
    sizes = {"u1": 3, "u4": 2}
    first = [(u, new_id(k, D1), sizes.get(k, 1)) for u, k in keys.items()]
    assert _table(catalog, "identity.person_map", D1) == sorted(first, key=str)
    assert (
        sorted(r[3] for r in _table(catalog, "identity.dropped_links", D1)) == ["person_limit"] + ["shared_value"] * 4
    )
    assert _table(catalog, "identity.person_changes", D1) == sorted(
        [(new_id(k, D1), "new", None, sizes.get(k, 1)) for k in sorted(set(keys.values()))], key=str
    )
    assert re.search(
        r"^  2026-02-01: 10 user ids -> 7 persons \(2 with several user ids, the largest 3\); \d+ ", out, re.M
    )
    assert "  links dropped by the merge protection: person_limit 1, shared_value 4 (identity.dropped_links)\n" in out
    assert "  user ids that changed person (first run): new 10 (identity.person_changes)\n" in out

    # Re-running D1 gives the same rows.
    before = {name: _table(catalog, name, D1) for name in IDENTITY_TABLES}
    assert _run(capsys, ["identity", "--as-of", str(D1), *sets])[0] == 0
    assert {name: _table(catalog, name, D1) for name in IDENTITY_TABLES} == before

    # By D2, u9 shares phone P1 with u1's person (3 user ids, all kept: the person keeps its id) and "late" has
    # registered; u9's former person merged into it, "late" is new.
    _links(spark, catalog, [*EDGES, ("u9", "phone", "P1", 40)])
    code, out = _run(capsys, ["identity", "--as-of", str(D2), *sets])
    assert code == 0, out
    person_map = {r[0]: r[1:] for r in _table(catalog, "identity.person_map", D2)}
    assert person_map["u9"] == person_map["u1"] == (new_id("u1", D1), 4)
    assert person_map["late"] == (new_id("late", D2), 1)
    assert {u: p for u, (p, _) in person_map.items() if u not in ("u9", "late")} == {
        u: p for u, p, _ in first if u != "u9"
    }
    assert _table(catalog, "identity.person_changes", D2) == sorted(
        [(new_id("u1", D1), "merge", new_id("u9", D1), 1), (new_id("late", D2), "new", None, 1)], key=str
    )
    assert "  user ids that changed person (since 2026-02-01): merge 1, new 1 (identity.person_changes)\n" in out


def test_missing_links_table_fails_before_any_write(spark, setup, capsys, tmp_path):
    catalog, sets = setup
    code, out = _run(capsys, ["identity", "--as-of", str(D1), *sets])
    assert (code, out) == (
        2,
        f"userscore identity: error: input table silver.identity_links does not exist at "
        f"{tmp_path}/warehouse/silver/identity_links: run ingest first\n",
    )
    assert [n for n in IDENTITY_TABLES if catalog.exists(n)] == []
