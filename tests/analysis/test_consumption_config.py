"""Config sections analysis.profile / analysis.consumption: checks at load and table references."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.config.consumption import reference_errors
from userscore.errors import ConfigError


def _load(overrides: dict, env: str = "local"):
    return load_config(env=env, conf_dir=REPO / "conf", overrides={"analysis": overrides})


def _errors(config):
    analysis = config.analysis
    return list(reference_errors(analysis.profile, analysis.consumption, analysis.inputs, config.tables))


def test_base_and_cdnow_config_reference_only_declared_tables_and_columns():
    assert _errors(_load({})) == []
    cdnow = _load({}, env="cdnow")
    # CDNOW scores have no churn tier: its overlay crosses the profile with the repurchase tier.
    assert cdnow.analysis.profile.crosses == ("grade", "repurchase_tier") and _errors(cdnow) == []


def test_unknown_columns_and_tables_are_reference_errors():
    config = _load({})
    profile = dataclasses.replace(
        config.analysis.profile, dimensions=("gender", "shoe_size"), crosses=("grade", "churn_tierr")
    )
    consumption = config.analysis.consumption
    consumption = dataclasses.replace(
        consumption, recency_column="r_scor", tables=dataclasses.replace(consumption.tables, lorenz="analysis.nowhere")
    )
    got = [
        (".".join(path), found)
        for path, found, _ in reference_errors(profile, consumption, config.analysis.inputs, config.tables)
    ]
    assert got == [
        ("analysis.profile.dimensions.1", "unknown column 'shoe_size'"),
        ("analysis.profile.crosses.1", "unknown column 'churn_tierr'"),
        ("analysis.consumption.tables.lorenz", "undefined table 'analysis.nowhere'"),
        ("analysis.consumption.recency_column", "unknown column 'r_scor'"),
    ]
    # Config.reference_errors runs these checks: such a config fails at load, naming the key.
    with pytest.raises(ConfigError) as caught:
        _load({"profile": {"dimensions": ["gender", "shoe_size"]}})
    assert caught.value.key_path == "analysis.profile.dimensions.1"


def test_score_columns_are_those_of_the_scores_input():
    # The scores input pointed at silver.users: the crosses and the R x F axes are none of its columns.
    config = _load({})
    inputs = dataclasses.replace(config.analysis.inputs, scores="silver.users")
    analysis = config.analysis
    got = [
        (".".join(path), found, expected)
        for path, found, expected in reference_errors(analysis.profile, analysis.consumption, inputs, config.tables)
    ]
    assert got == [
        ("analysis.profile.crosses.0", "unknown column 'grade'", "a column of silver.users"),
        ("analysis.profile.crosses.1", "unknown column 'churn_tier'", "a column of silver.users"),
        ("analysis.consumption.recency_column", "unknown column 'r_score'", "a column of silver.users"),
        ("analysis.consumption.frequency_column", "unknown column 'f_score'", "a column of silver.users"),
    ]
    # An undefined input is named by analysis.inputs' own check, not again here.
    undefined = dataclasses.replace(inputs, users="silver.nowhere", scores="scores.nowhere")
    assert list(reference_errors(analysis.profile, analysis.consumption, undefined, config.tables)) == []


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        (
            {"profile": {"tenure_bands": [{"name": "new", "max_days": 90}, {"name": "old", "max_days": 400}]}},
            "analysis.profile.tenure_bands",
            "every band but the last has max_days; the last has none",
        ),
        (
            {
                "profile": {
                    "tenure_bands": [{"name": "a", "max_days": 90}, {"name": "b", "max_days": 30}, {"name": "c"}]
                }
            },
            "analysis.profile.tenure_bands",
            "max_days strictly increasing, got [90, 30]",
        ),
        (
            {"consumption": {"order_value_edges": [5, 10]}},
            "analysis.consumption.order_value_edges",
            "strictly increasing edges starting at 0, got [5.0, 10.0]",
        ),
        ({"consumption": {"top_shares": [0.0, 0.1]}}, "analysis.consumption.top_shares", "shares in (0, 1]"),
        ({"consumption": {"lorenz_points": 0}}, "analysis.consumption.lorenz_points", "an integer >= 1"),
    ],
)
def test_bad_settings_fail_at_load_naming_the_key(overrides, key, expected):
    with pytest.raises(ConfigError) as caught:
        _load(overrides)
    assert caught.value.key_path == key
    assert expected in caught.value.expected
