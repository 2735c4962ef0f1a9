"""Purge with deletion vectors on: the erasure's MERGE marks rows deleted without rewriting files; the
purge (REORG ... APPLY (PURGE), then VACUUM) leaves no file holding them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import make_config
from userscore.catalog import Catalog
from userscore.privacy.matching import match_condition, subjects_frame

TABLE = {
    "description": "per-user rows with deletion vectors",
    "subject_columns": ["user_id"],
    "properties": {"delta.enableDeletionVectors": "true"},
    "columns": [{"name": "user_id", "type": "string"}, {"name": "amount", "type": "double"}],
}


def test_deleted_rows_leave_no_file_behind(spark, tmp_path):
    config = make_config(tmp_path, {"tables": {"test.dv_rows": TABLE}})
    catalog = Catalog(spark, config)
    rows = [("u1", 1.0), ("u10", 2.0), ("u2", 3.0)]
    catalog.append("test.dv_rows", spark.createDataFrame(rows, "user_id string, amount double").coalesce(1))
    written = catalog.delete_matching(
        "test.dv_rows", subjects_frame(spark, {"u1": "r1"}), match_condition(catalog.spec("test.dv_rows"))
    )
    assert written.rows == 1
    metrics = catalog._delta("test.dv_rows").history(1).first()["operationMetrics"]
    assert metrics["numTargetDeletionVectorsAdded"] == "1"  # the file itself still holds u1

    assert catalog.purge("test.dv_rows", 0) == "REORG APPLY (PURGE), VACUUM RETAIN 0 HOURS"
    files = [p for p in Path(catalog.location("test.dv_rows")).rglob("*.parquet") if "_delta_log" not in p.parts]
    values = sorted(v for f in files for v in pq.read_table(f).column("user_id").to_pylist())
    assert values == ["u10", "u2"]
    assert sorted(r.user_id for r in catalog.read("test.dv_rows").collect()) == ["u10", "u2"]
    # The safety check is back on for everyone else.
    assert spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled", "true") == "true"
