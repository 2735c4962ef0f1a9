"""A job whose precondition fails (exit 2) leaves nothing behind: no table, no MLflow store (mlflow.db,
./mlruns), no checkpoint folder. Train, btyd and monitor through the CLI on tiny inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import REPO, make_config
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main


@pytest.fixture
def setup(spark, tmp_path, monkeypatch):
    """A warehouse under tmp/warehouse with two orders in January 2026; cwd tmp (MLflow's default ./mlruns)."""
    monkeypatch.chdir(tmp_path)
    tracking = {"uri": f"sqlite:///{tmp_path}/mlflow.db", "artifact_root": str(tmp_path / "mlruns")}
    config = make_config(tmp_path, {"models": {"tracking": tracking, "checkpoint_dir": str(tmp_path / "ckpt")}})
    catalog = Catalog(spark, config)
    orders = [
        (
            f"o{i}",
            f"u{i}",
            dt.datetime(2026, 1, 10 + i),
            dt.date(2026, 1, 1),
            10.0,
            "books",
            "app",
            None,
            False,
            0.0,
            False,
            1,
            None,
            dt.datetime(2026, 1, 10 + i),
            "b1",
        )
        for i in (1, 2)
    ]
    catalog.append("silver.orders", spark.createDataFrame(orders, declared_schema(config.tables["silver.orders"])))
    sets = [
        "--conf-dir", str(REPO / "conf"),
        "--set", f"catalog.root={tmp_path}/warehouse",
        "--set", f"models.tracking.uri={tracking['uri']}",
        "--set", f"models.tracking.artifact_root={tracking['artifact_root']}",
        "--set", f"models.checkpoint_dir={tmp_path}/ckpt",
        "--set", "spark.master=local[2]",
    ]  # fmt: skip
    return catalog, sets


def _run(capsys, argv) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().out


def test_btyd_without_purchases_before_d(setup, tmp_path, capsys):
    catalog, sets = setup
    code, out = _run(capsys, ["btyd", "--as-of", "2025-06-01", *sets])
    assert (code, out) == (
        2,
        "userscore btyd: error: no purchases before 2025-06-01 in silver.orders: nothing to fit\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse"]
    assert [n for n in catalog.config.tables if catalog.exists(n)] == ["silver.orders"]


def test_train_without_features_and_monitor_without_scores(setup, tmp_path, capsys):
    catalog, sets = setup
    code, out = _run(capsys, ["train", "--target", "churn_60d", *sets])
    assert (code, out) == (
        2,
        f"userscore train: error: table features.user_features does not exist at {tmp_path}/warehouse/features/"
        "user_features: run the job that writes it first\n",
    )
    code, out = _run(capsys, ["monitor", "--as-of", "2026-02-01", *sets])
    assert (code, out) == (
        2,
        "userscore monitor: error: scores.user_scores does not exist: run `userscore score --as-of D` first\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse"]
    assert [n for n in catalog.config.tables if catalog.exists(n)] == ["silver.orders"]
