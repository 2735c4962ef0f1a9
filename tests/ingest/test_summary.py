"""The job summary reports what each write committed; a write Delta did not commit says "no change" rather
than repeating the table's previous commit."""

from __future__ import annotations

import shutil

import yaml

from tests.conftest import REPO, TEST_SPARK, make_config
from tests.ingest.raw import NOW, USER_COLUMNS, user, write_parquet_rows
from userscore import cli
from userscore.catalog import Catalog


def test_a_clean_batch_reports_no_change_in_the_quarantine(spark, tmp_path, capsys):
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf" / "base", conf / "base")
    (conf / "test").mkdir()
    (conf / "test" / "spark.yaml").write_text(
        yaml.safe_dump({"spark": {**TEST_SPARK["spark"], "jars_dir": str(REPO / ".jars")}})
    )
    raw = tmp_path / "data" / "raw"
    nameless = user(None, "138 0013 8001", "bob@example.com")  # user_id is NOT NULL: quarantined
    write_parquet_rows(raw, "users", "b1", USER_COLUMNS, [user("u1", "138 0013 8000", "a@example.com"), nameless])
    write_parquet_rows(raw, "users", "b2", USER_COLUMNS, [user("u2", "138 0013 8002", "c@example.com")])
    argv = ["ingest", "--conf-dir", str(conf), "--env", "test", "--source", "users", "--now", NOW, "--batch"]

    capsys.readouterr()
    assert cli.main([*argv, "b1"]) == 0
    quarantine = "silver.quarantine [`batch_id` = 'b1' AND `source` = 'users']"
    assert f"    {quarantine}: replaceWhere 1 rows -> Delta version 1\n" in capsys.readouterr().out
    catalog = Catalog(spark, make_config(tmp_path))
    version = catalog.version("silver.quarantine")
    assert version == 1  # 0: the table's creation

    assert cli.main([*argv, "b2"]) == 0
    out = capsys.readouterr().out
    quarantine = "silver.quarantine [`batch_id` = 'b2' AND `source` = 'users']"
    assert f"    {quarantine}: replaceWhere: no change (Delta version {version})\n" in out
    assert catalog.version("silver.quarantine") == version
