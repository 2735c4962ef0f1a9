"""The paths section loads from conf/base and rejects bad settings naming the key (no Spark)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.config.paths import funnel_errors, reference_errors
from userscore.errors import ConfigError


def _load(**paths):
    return load_config(env="local", conf_dir=REPO / "conf", overrides={"analysis": {"paths": paths}})


def test_conf_base_declares_the_documented_defaults():
    cfg = _load()
    paths = cfg.analysis.paths
    assert (
        paths.session_gap_minutes,
        paths.element,
        paths.page_events,
        paths.page_levels,
        paths.other_events,
        paths.depth,
    ) == (
        30,
        "page",
        ("page_view",),
        1,
        "event_type",
        5,
    )
    assert list(reference_errors(paths, cfg.tables)) == []
    assert {c.name for c in cfg.tables["analysis.paths"].columns} >= {"kind", "path", "sessions", "users", "share"}
    assert cfg.tables["analysis.path_transitions"].partition_by == ("as_of_date",)


@pytest.mark.parametrize(
    ("setting", "key", "expected"),
    [
        ({"session_gap_minutes": 0}, "analysis.paths.session_gap_minutes", "an integer in [1, 1440]"),
        ({"depth": 1}, "analysis.paths.depth", "an integer in [2, 20]"),
        ({"element": "category"}, "analysis.paths.element", "one of 'event_type', 'page'"),
        ({"other_events": "drop"}, "analysis.paths.other_events", "one of 'event_type', 'skip'"),
        ({"page_events": []}, "analysis.paths.page_events", "at least one event type when element is page"),
        ({"top_paths": 0}, "analysis.paths.top_paths", "an integer in [1, 1000]"),
        ({"end_anchors": ["cart", "cart"]}, "analysis.paths.end_anchors", "distinct values, ['cart'] listed twice"),
        ({"start_anchors": [""]}, "analysis.paths.start_anchors", "non-empty names"),
        ({"anchors": ["home"]}, "analysis.paths.anchors", "one of: compare_funnels, depth, element"),
    ],
)
def test_bad_settings_fail_naming_the_key(setting, key, expected):
    with pytest.raises(ConfigError) as caught:
        _load(**setting)
    assert caught.value.key_path == key
    assert caught.value.expected.startswith(expected)


def test_undefined_tables_and_funnels_are_reported():
    base = _load()
    cfg = dataclasses.replace(
        base.analysis.paths,
        tables=dataclasses.replace(base.analysis.paths.tables, paths="analysis.nope"),
        compare_funnels=("buy", "x"),
    )
    assert list(reference_errors(cfg, base.tables)) == [
        (("analysis", "paths", "tables", "paths"), "undefined table 'analysis.nope'", f"one of {sorted(base.tables)}")
    ]
    # Config.reference_errors runs these checks: such a config fails at load, naming the key.
    with pytest.raises(ConfigError) as caught:
        _load(compare_funnels=["browse_to_order", "x"])
    assert caught.value.key_path == "analysis.paths.compare_funnels.1"
    assert list(funnel_errors(cfg, ["buy", "signup"])) == [
        (("analysis", "paths", "compare_funnels", "1"), "undefined funnel 'x'", "one of ['buy', 'signup']")
    ]
    assert list(funnel_errors(dataclasses.replace(cfg, compare_funnels=()), [])) == []
