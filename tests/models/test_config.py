"""The models config section: rule kinds checked at load, references to tables checked, paths resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.errors import ConfigError
from userscore.models.tracking import config_hash, flat_params, resolve


def _load(models: dict):
    return load_config(env="local", conf_dir=REPO / "conf", overrides={"models": models})


def test_base_targets_load_with_their_rules():
    targets = _load({}).models.targets
    assert {"repurchase_30d", "churn_60d", "vip_promotion_90d"} <= set(targets)
    churn = targets["churn_60d"]
    assert (churn.horizon_days, churn.population.kind, churn.population.lookback_days) == (60, "active_within", 90)
    assert targets["vip_promotion_90d"].label.levels == ("basic", "silver", "gold", "platinum")


def test_a_new_target_with_an_existing_kind_is_config_only():
    new = {"horizon_days": 14, "label": {"kind": "any_order_within", "include_refunded": True}}
    target = _load({"targets": {"repurchase_14d": new}}).models.targets["repurchase_14d"]
    assert (target.horizon_days, target.label.include_refunded, target.sample.max_rows) == (14, True, 1_000_000)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"horizon_days": 30, "label": {"kind": "no_activity_within", "spend_threshold": 5.0}}, "does not use"),
        ({"horizon_days": 30, "label": {"kind": "level_rise_or_spend_crosses", "levels": ["a", "b"]}}, "needs"),
        ({"horizon_days": 30, "label": {"kind": "any_order_within"}, "gbt": {"max_dept": 3}}, "unknown key"),
        ({"horizon_days": 0, "label": {"kind": "any_order_within"}}, r"an integer in \[1, 36525\]"),
    ],
)
def test_bad_targets_fail_at_load_naming_the_key(target, message):
    with pytest.raises(ConfigError, match=message) as info:
        _load({"targets": {"bad_target": target}})
    assert info.value.key_path.startswith("models.targets.bad_target")


def test_undefined_input_table_is_a_reference_error():
    with pytest.raises(ConfigError, match="undefined table 'silver.nope'") as info:
        _load({"inputs": {"events": "silver.nope"}})
    assert info.value.key_path == "models.inputs.events"


def test_tracking_uri_and_artifacts_resolve_against_the_project_root(tmp_path):
    config = _load({})
    store = resolve(config.models.tracking, tmp_path)
    assert store.uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert store.artifact_location == (tmp_path.resolve() / "mlruns").as_uri()
    remote = resolve(config.models.tracking.__class__(uri="http://mlflow:5000", artifact_root="s3://b/a"), Path("/x"))
    assert (remote.uri, remote.artifact_location) == ("http://mlflow:5000", "s3://b/a")


def test_params_flatten_and_config_hash_is_stable():
    target = _load({}).models.targets["churn_60d"]
    params = flat_params(target)
    assert params["gbt.max_depth"] == "5" and params["population.lookback_days"] == "90"
    assert config_hash(target) == config_hash(_load({}).models.targets["churn_60d"])
    assert config_hash(target) != config_hash(_load({}).models.targets["repurchase_30d"])
