"""The Databricks overlays: Unity Catalog table names, MLflow on the workspace with the UC registry, and
the dev overlay being the production one with dev names (nothing else may drift between them)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from userscore.catalog import Catalog
from userscore.config import load_config
from userscore.errors import ConfigError
from userscore.models.tracking import resolve

REPO = Path(__file__).resolve().parents[2]


def test_databricks_overlay_names_unity_catalog_tables_and_models():
    config = load_config(env="databricks", conf_dir=REPO / "conf")
    catalog = Catalog(None, config)  # names only: no session needed
    assert catalog.location("features.user_features") == "userscore.features.user_features"
    assert catalog.location("scores.user_scores") == "userscore.scores.user_scores"
    assert catalog.location("tags.user_tag_wide") == "userscore.tags.user_tag_wide"
    assert catalog.location("monitor.drift") == "userscore.monitor.drift"
    assert catalog.location("silver.quarantine") == "userscore.silver.quarantine"
    assert config.spark.mode == "databricks"
    tracking = config.models.tracking
    assert f"{tracking.model_prefix}churn_60d" == "userscore.models.churn_60d"
    assert config.btyd.model_name == "userscore.models.btyd"
    assert config.models.promotion.alias == "champion"
    assert config.monitor.report.mlflow_experiment == "/Shared/userscore-monitor"


def test_databricks_store_tracks_in_the_workspace_and_registers_in_unity_catalog():
    config = load_config(env="databricks", conf_dir=REPO / "conf")
    store = resolve(config.models.tracking, Path("/Workspace/Shared/.bundle/userscore/prod/files"))
    assert (store.uri, store.registry, store.experiment) == ("databricks", "databricks-uc", "/Shared/userscore")
    # Databricks-managed experiments keep artifacts where the workspace puts them, not under the root.
    assert store.artifact_location is None
    assert store.dfs_tmpdir == "/Volumes/userscore/ops/scratch/mlflow"


def test_local_store_keeps_registry_and_tracking_in_one_sqlite_file(tmp_path):
    config = load_config(env="local", conf_dir=REPO / "conf")
    store = resolve(config.models.tracking, tmp_path)
    assert store.registry_uri is None
    assert store.registry == store.uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def _tree(env: str) -> dict:
    """An overlay's files merged (each top-level section lives in one file)."""
    merged: dict = {}
    for path in sorted((REPO / "conf" / env).glob("*.yaml")):
        for section, body in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert section not in merged, f"{section} set twice in conf/{env}"
            merged[section] = body
    return merged


def _renamed(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    if isinstance(value, str):
        return re.sub(rf"\b{old}\b", new, value)
    return value


def test_dev_overlay_is_the_production_overlay_in_the_dev_catalog():
    prod, dev = _tree("databricks"), _tree("databricks_dev")
    assert dev == _renamed(prod, "userscore", "userscore_dev")
    assert dev["catalog"]["catalog"] == "userscore_dev"
    assert dev["models"]["tracking"]["model_prefix"] == "userscore_dev.models."


def test_a_bad_value_in_the_databricks_overlay_names_its_file_and_key(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    broken = conf / "databricks" / "mlflow.yaml"
    broken.write_text(broken.read_text().replace("registry_uri: databricks-uc", "registry_uri: [databricks-uc]"))
    with pytest.raises(ConfigError) as info:
        load_config(env="databricks", conf_dir=conf)
    error = info.value
    assert (error.file, error.key_path, error.exit_code) == (str(broken), "models.tracking.registry_uri", 2)
    assert error.found == "['databricks-uc'] (list)"
