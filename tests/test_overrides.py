"""``--set`` key paths (quoted segments for keys with dots) and the one deep merge of config layers (pure Python)."""

from __future__ import annotations

import argparse

import pytest

from tests.conftest import REPO
from userscore.config import deep_merge, load_config
from userscore.runner import parse_overrides


def test_dotted_paths_nest_and_values_are_yaml():
    assert parse_overrides(["generate.users=1000", "generate.seed=7", "models.promotion={max_ece: 1.0}"]) == {
        "generate": {"users": 1000, "seed": 7},
        "models": {"promotion": {"max_ece": 1.0}},
    }


def test_a_quoted_segment_is_one_key_dots_and_equals_signs_included():
    pairs = [
        "spark.conf.\"spark.sql.shuffle.partitions\"='4'",
        'spark.conf."spark.sql.adaptive.enabled"=false',
        'spark.conf."spark.driver.extraJavaOptions"=-Da=b',
        'spark."odd=key".x=1',
    ]
    assert parse_overrides(pairs) == {
        "spark": {
            "conf": {
                "spark.sql.shuffle.partitions": "4",
                "spark.sql.adaptive.enabled": False,
                "spark.driver.extraJavaOptions": "-Da=b",
            },
            "odd=key": {"x": 1},
        }
    }


def test_later_pairs_win_and_a_deeper_pair_replaces_a_scalar():
    assert parse_overrides(["a.b=1", "a.b=2", "c=3", "c.d=4"]) == {"a": {"b": 2}, "c": {"d": 4}}


@pytest.mark.parametrize("pair", ["users", "=1", "a..b=1", 'a."unclosed=1', "a.=1", '"".x=1', "a.b", 'a"b=1'])
def test_malformed_pairs_name_the_syntax(pair):
    with pytest.raises(argparse.ArgumentTypeError, match=r"--set expects key\.path=value, got .*spark\.conf\.\"spark"):
        parse_overrides([pair])


def test_a_spark_setting_with_dots_reaches_the_loaded_config():
    overrides = parse_overrides(["spark.conf.\"spark.sql.shuffle.partitions\"='3'"])
    config = load_config(env="local", conf_dir=REPO / "conf", overrides=overrides)
    assert config.spark.conf["spark.sql.shuffle.partitions"] == "3"
    # The overlay's other settings stay (conf/local/spark.yaml sets the UI off).
    assert config.spark.conf["spark.ui.enabled"] == "false"


def test_deep_merge_merges_mappings_and_replaces_everything_else():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"k": 1}}
    layer = {"a": {"y": [3], "z": 2}, "b": {"new": True}, "c": 5}
    assert deep_merge(base, layer) == {"a": {"x": 1, "y": [3], "z": 2}, "b": {"new": True}, "c": 5}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"k": 1}}  # inputs unchanged
