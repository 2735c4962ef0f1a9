"""Rows keyed by person (identity.resolve) belong to every member user id: erasing one member deletes the
person's row, and a look-alike id (u1 vs u10) matches nothing."""

from __future__ import annotations

from pyspark.sql import functions as F

from tests.conftest import make_config
from userscore.catalog import Catalog
from userscore.privacy.matching import match_condition, matched_requests, subjects_frame

TABLE = {
    "description": "per-person rows",
    "subject_columns": ["user_id"],
    "open_schema": True,
    "columns": [{"name": "user_id", "type": "string"}, {"name": "amount", "type": "double"}],
}
ROWS = [("p-a", 1.0, ["u1", "u2"]), ("p-b", 2.0, ["u10"]), ("u3", 3.0, ["u3"]), ("p-c", 4.0, ["u4", "u5"])]


def test_a_member_id_matches_its_person_row(spark, tmp_path):
    catalog = Catalog(spark, make_config(tmp_path, {"tables": {"test.persons": TABLE}}))
    frame = spark.createDataFrame(ROWS, "user_id string, amount double, member_user_ids array<string>")
    catalog.append("test.persons", frame)
    spec = catalog.spec("test.persons")
    owner = {"u2": "r1", "u3": "r2", "u5": "r2", "u1": "r3"}
    arrays = ["member_user_ids"]

    requests = catalog.read("test.persons").select("user_id", F.array_sort(matched_requests(spec, owner, arrays)))
    assert sorted(map(tuple, requests.collect())) == [
        ("p-a", ["r1", "r3"]), ("p-b", []), ("p-c", ["r2"]), ("u3", ["r2"]),
    ]  # fmt: skip

    written = catalog.delete_matching(
        "test.persons", subjects_frame(spark, {"u2": "r1"}), match_condition(spec, arrays)
    )
    assert written.rows == 1
    assert sorted(r.user_id for r in catalog.read("test.persons").collect()) == ["p-b", "p-c", "u3"]
