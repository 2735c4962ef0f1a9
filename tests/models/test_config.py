"""The models config section: rule kinds checked at load, references to tables checked, paths resolved."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from userscore.config import load_config
from userscore.errors import ConfigError
from userscore.models.tracking import config_hash, flat_params, resolve

# What a new target states besides its horizon and label (training settings come from models.defaults).
RULES = {"population": {"kind": "all"}, "tiers": [{"name": "high", "min": 0.5}, {"name": "low"}]}


def _load(models: dict):
    return load_config(env="local", conf_dir=REPO / "conf", overrides={"models": models})


def _base_yaml() -> dict:
    return yaml.safe_load((REPO / "conf" / "base" / "models.yaml").read_text(encoding="utf-8"))["models"]


def test_base_targets_load_with_their_rules():
    targets, written = _load({}).models.targets, _base_yaml()["targets"]
    assert list(targets) == list(written)
    for name, target in targets.items():
        assert (target.horizon_days, target.population.kind, target.label.kind) == (
            written[name]["horizon_days"],
            written[name]["population"]["kind"],
            written[name]["label"]["kind"],
        )
        assert [(b.name, b.min, b.above) for b in target.tiers] == [
            (t["name"], t.get("min"), t.get("above")) for t in written[name]["tiers"]
        ]


ANY_ORDER = {"kind": "any_order_within", "include_refunded": False}


def test_a_new_target_with_an_existing_kind_is_config_only():
    new = {"horizon_days": 14, "label": {"kind": "any_order_within", "include_refunded": True}, **RULES}
    models = _load({"targets": {"repurchase_14d": new}}).models
    target = models.targets["repurchase_14d"]
    assert (target.horizon_days, target.label.include_refunded, target.sample) == (14, True, models.defaults.sample)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            {
                "horizon_days": 30,
                "label": {"kind": "no_activity_within", "include_refunded": True, "levels": ["a", "b"]},
            },
            "does not use",
        ),
        ({"horizon_days": 30, "label": {"kind": "level_rise_or_spend_crosses", "levels": ["a", "b"]}}, "needs"),
        ({"horizon_days": 30, "label": {"kind": "any_order_within"}}, r"needs \['include_refunded'\]"),
        ({"horizon_days": 30, "label": ANY_ORDER, "gbt": {"max_dept": 3}, **RULES}, "unknown key"),
        ({"horizon_days": 0, "label": ANY_ORDER}, r"an integer in \[1, 36525\]"),
        (
            {"horizon_days": 30, "label": ANY_ORDER, "tiers": RULES["tiers"]},
            "required key 'population'",
        ),
        (
            {"horizon_days": 30, "label": ANY_ORDER, "population": {"kind": "all"}},
            "required key 'tiers'",
        ),
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
    remote = resolve(replace(config.models.tracking, uri="http://mlflow:5000", artifact_root="s3://b/a"), Path("/x"))
    assert (remote.uri, remote.artifact_location) == ("http://mlflow:5000", "s3://b/a")


def test_params_flatten_and_config_hash_is_stable():
    target = _load({}).models.targets["churn_60d"]
    params = flat_params(target)
    written = _base_yaml()
    assert params["gbt.max_depth"] == str(written["defaults"]["gbt"]["max_depth"])
    assert params["population.lookback_days"] == str(written["targets"]["churn_60d"]["population"]["lookback_days"])
    assert config_hash(target) == config_hash(_load({}).models.targets["churn_60d"])
    assert config_hash(target) != config_hash(_load({}).models.targets["repurchase_30d"])


def test_baselines_merge_over_the_defaults_key_by_key_and_resolve_the_horizon():
    models = _load(
        {
            "defaults": {"baselines": {"frequency": {"column": "frequency_{horizon}d", "direction": "higher"}}},
            "targets": {
                "repurchase_30d": {"baselines": {"rfm_score": None}},
                "churn_60d": {"horizon_days": 90},
            },
        }
    ).models
    # Written in conf/base: recency lower, rfm_score, BG/NBD expected purchases and P(alive) higher;
    # churn_60d flips all four.
    assert models.targets["vip_promotion_90d"].baseline_columns() == {
        "recency": ("recency_days", "lower"),
        "rfm_score": ("rfm_score", "higher"),
        "bgnbd_expected_purchases": ("bgnbd_expected_purchases_90d", "higher"),
        "bgnbd_p_alive": ("bgnbd_p_alive", "higher"),
        "frequency": ("frequency_90d", "higher"),
    }
    assert models.targets["churn_60d"].baseline_columns() == {
        "recency": ("recency_days", "higher"),
        "rfm_score": ("rfm_score", "lower"),
        "bgnbd_expected_purchases": ("bgnbd_expected_purchases_90d", "lower"),
        "bgnbd_p_alive": ("bgnbd_p_alive", "lower"),
        "frequency": ("frequency_90d", "higher"),
    }
    # null drops a default baseline for one target.
    assert models.targets["repurchase_30d"].baseline_columns() == {
        "recency": ("recency_days", "lower"),
        "bgnbd_expected_purchases": ("bgnbd_expected_purchases_30d", "higher"),
        "bgnbd_p_alive": ("bgnbd_p_alive", "higher"),
        "frequency": ("frequency_30d", "higher"),
    }


@pytest.mark.parametrize(
    ("models", "key", "message"),
    [
        # A typo in a {horizon} column: no horizon gives a feature column. (A horizon the features do not
        # compute, e.g. frequency_{horizon}d for a 60-day target, is skipped at training, not refused here.)
        (
            {"defaults": {"baselines": {"frequency": {"column": "frequncy_{horizon}d", "direction": "higher"}}}},
            "models.targets.repurchase_30d.baselines.frequency.column",
            r"column 'frequncy_\{horizon\}d' that no feature snapshot has",
        ),
        (
            {"targets": {"churn_60d": {"baselines": {"recency": {"column": "recency_dayz"}}}}},
            "models.targets.churn_60d.baselines.recency.column",
            r"column 'recency_dayz' that no feature snapshot has",
        ),
        (
            {"defaults": {"baselines": {"recency": {"direction": "up"}}}},
            "models.defaults.baselines.recency.direction",
            "one of 'higher', 'lower'",
        ),
        (
            {"defaults": {"baselines": {"odd": {"column": "recency-{horizon}", "direction": "lower"}}}},
            "models.defaults.baselines.odd.column",
            r"a column name, optionally with \{horizon\}",
        ),
        (
            {"defaults": {"baselines": {"best": {"column": "recency_days", "direction": "lower"}}}},
            "models.defaults.baselines",
            r"baseline names other than 'best', got \['best'\]",
        ),
        ({"promotion": {"baseline_margin": 1.5}}, "models.promotion.baseline_margin", r"a number in \[-1, 1\]"),
    ],
)
def test_bad_baselines_fail_at_load_naming_the_key(models, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        _load(models)
    assert info.value.key_path == key
