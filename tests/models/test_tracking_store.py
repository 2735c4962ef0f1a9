"""Jobs that only read the MLflow registry never create the tracking store (no mlflow.db, no ./mlruns):
a missing store holds no champion (pure Python, no Spark)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO, make_config
from userscore.errors import InputError
from userscore.models.tracking import local_store_path, resolve, store_exists


@pytest.fixture
def absent(tmp_path, monkeypatch):
    """A config whose store would be <tmp>/mlflow.db with artifacts in <tmp>/mlruns; cwd is tmp (MLflow's
    default artifact root ./mlruns lands there)."""
    monkeypatch.chdir(tmp_path)
    tracking = {"uri": f"sqlite:///{tmp_path}/mlflow.db", "artifact_root": str(tmp_path / "mlruns")}
    return make_config(tmp_path, {"models": {"tracking": tracking}})


def _left(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_local_store_paths():
    assert local_store_path("sqlite:////data/ml/mlflow.db") == Path("/data/ml/mlflow.db")
    assert local_store_path("sqlite:////data/my%20ml/mlflow.db?timeout=5") == Path("/data/my ml/mlflow.db")
    assert local_store_path("file:///data/mlruns") == Path("/data/mlruns")
    assert local_store_path("/data/mlruns") == Path("/data/mlruns")
    assert local_store_path("databricks") is None and local_store_path("databricks-uc") is None
    assert local_store_path("http://mlflow:5000") is None


def test_scoring_without_a_store_names_the_missing_champions_and_creates_nothing(absent, tmp_path):
    from userscore.scoring.models import load_champions

    before = _left(tmp_path)
    with pytest.raises(InputError) as failure:
        load_champions(absent.scoring.targets, absent.models.tracking, "champion", tmp_path)
    assert str(failure.value) == (
        "no champion for userscore-churn_60d@champion, userscore-repurchase_30d@champion in the MLflow registry "
        f"at sqlite:///{tmp_path}/mlflow.db (no store "
        "there yet): train and promote it (`userscore train --target ...`) or mark the target optional in "
        "scoring.targets"
    )
    assert _left(tmp_path) == before and not store_exists(resolve(absent.models.tracking, tmp_path))


def test_btyd_champion_lookup_and_monitor_registry_create_nothing(absent, tmp_path):
    from userscore.btyd.tracking import load_model
    from userscore.monitoring.models import Registry

    before = _left(tmp_path)
    store = resolve(absent.models.tracking, tmp_path)
    with pytest.raises(InputError) as failure:
        load_model(store, "userscore-btyd", "champion")
    assert str(failure.value) == (
        f"no version of userscore-btyd holds alias 'champion' in sqlite:///{tmp_path}/mlflow.db: "
        "run `userscore btyd` first"
    )
    registry = Registry(absent)
    assert (registry.champion("churn_60d"), registry.version("churn_60d", "1")) == (None, None)
    assert _left(tmp_path) == before


def test_mlflow_is_configured_in_one_module():
    """Tracking and registry URIs, experiments and clients are set up by models/tracking.py only."""
    setup = re.compile(r"set_tracking_uri|set_registry_uri|MlflowClient\(|set_experiment")
    lib = REPO / "lib" / "userscore"
    found = sorted(str(p.relative_to(lib)) for p in lib.rglob("*.py") if setup.search(p.read_text()))
    assert found == ["models/tracking.py"]
