"""Scoring, tag and segment config: hostile or broken rules and references fail at load, naming the tag."""

from __future__ import annotations

import pytest

from tests.conftest import make_config
from userscore.config.bands import Band
from userscore.errors import ConfigError


def _tag(rule: str) -> dict:
    return {
        "name": "Hostile",
        "category": "risk",
        "definition": {"rule": rule},
        "owner": "qa",
        "refresh": "daily",
        "sensitivity": "internal",
        "description": "a rule that must be rejected",
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("value_score > (SELECT max(value_score) FROM user_scores)", "unknown column 'SELECT'"),
        ("value_score > 1 AND scores.value_score > 1", "unexpected '.value_score > 1'"),
        ("churn_probability > 0.7; DROP TABLE silver.users", "unexpected ';"),
        ("reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL", "function 'reflect' is not allowed"),
        ("java_method('java.lang.System', 'exit', 0) = 0", "function 'java_method' is not allowed"),
        ("rand() < 0.5", "function 'rand' is not allowed"),
        ("salary > 100", "unknown column 'salary'"),
        ("churn_probability > 0.7 -- AND grade = 'A'", "comments (--) are not allowed"),
        ("recency_days IN (SELECT user_id FROM users)", "IN (...) takes literals only"),
        ("`recency_days` > 1", "unexpected '`recency_days`"),
    ],
)
def test_hostile_tag_rules_fail_at_load_naming_the_tag(tmp_path, rule, message):
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"tags": {"dictionary": {"evil_tag": _tag(rule)}}})
    error = caught.value
    assert error.key_path == "tags.dictionary.evil_tag.definition.rule"
    assert "evil_tag" in error.found and message in error.found
    assert error.file == "<override>"


def test_tag_rules_see_score_columns_but_not_other_tags(tmp_path):
    config = make_config(
        tmp_path, {"tags": {"dictionary": {"ok_tag": _tag("churn_tier = 'high' AND value_score >= 80")}}}
    )
    assert config.tags.dictionary["ok_tag"].definition.rule == "churn_tier = 'high' AND value_score >= 80"
    with pytest.raises(ConfigError, match=r"tags\.dictionary\.bad_tag\.definition\.rule.*unknown column 'high_value'"):
        make_config(tmp_path, {"tags": {"dictionary": {"bad_tag": _tag("high_value")}}})


def test_binned_tag_needs_a_known_column_and_matching_labels(tmp_path):
    spec = _tag("x")
    spec["definition"] = {"column": "monetary_999d", "bins": {"edges": [1, 2], "labels": ["a", "b", "c"]}}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"tags": {"dictionary": {"spend_x": spec}}})
    assert caught.value.key_path == "tags.dictionary.spend_x.definition.column"
    assert "undefined column 'monetary_999d' for tag 'spend_x'" in caught.value.found
    spec["definition"] = {"column": "monetary_365d", "bins": {"edges": [1, 2], "labels": ["a", "b"]}}
    with pytest.raises(ConfigError, match=r"definition\.bins\.labels.*3 labels for 2 edges"):
        make_config(tmp_path, {"tags": {"dictionary": {"spend_x": spec}}})


def test_tag_id_cannot_shadow_a_column(tmp_path):
    with pytest.raises(ConfigError, match=r"tags\.dictionary\.grade: .*already a feature or score column"):
        make_config(tmp_path, {"tags": {"dictionary": {"grade": _tag("value_score > 1")}}})


def test_hostile_segment_rule_names_family_and_segment(tmp_path):
    segment = {"priority": 9, "rule": "high_value OR exists(select 1)", "strategy": "s", "channel": "c"}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"segments": {"families": {"retention": {"segments": {"sneaky": segment}}}}})
    assert caught.value.key_path == "segments.families.retention.segments.sneaky.rule"
    assert "retention.sneaky" in caught.value.found and "function 'exists' is not allowed" in caught.value.found


def test_segment_rules_read_the_score_row_not_every_feature(tmp_path):
    # Segments are matched on the written score row (carried columns, scores, tags): a feature that is not
    # carried (app_sessions_30d) would be an unresolved column at scoring time, so load rejects it.
    carried = {"priority": 9, "rule": "rfm_score >= 4 AND high_value", "strategy": "s", "channel": "c"}
    config = make_config(tmp_path, {"segments": {"families": {"retention": {"segments": {"ok": carried}}}}})
    assert config.segments.families["retention"].segments["ok"].rule == "rfm_score >= 4 AND high_value"
    feature = {"priority": 9, "rule": "logins_30d >= 1", "strategy": "s", "channel": "c"}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"segments": {"families": {"retention": {"segments": {"active": feature}}}}})
    assert caught.value.key_path == "segments.families.retention.segments.active.rule"
    assert "unknown column 'logins_30d'" in caught.value.found


def test_segment_priorities_are_unique_within_a_family(tmp_path):
    segment = {"priority": 1, "rule": "high_value", "strategy": "s", "channel": "c"}
    with pytest.raises(ConfigError, match=r"segments\.families\.retention\.segments.*distinct priorities"):
        make_config(tmp_path, {"segments": {"families": {"retention": {"segments": {"twin": segment}}}}})


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"scoring": {"targets": {"ltv_365d": {"prefix": "ltv"}}}}, "scoring.targets.ltv_365d", "undefined target"),
        (
            {
                "models": {
                    "targets": {
                        "churn_60d": {
                            "tiers": [{"name": "high", "min": 0.3}, {"name": "low", "min": 0.5}, {"name": "x"}]
                        }
                    }
                }
            },
            "models.targets.churn_60d.tiers",
            "strictly decreasing",
        ),
        ({"scoring": {"grades": [{"name": "A", "min": 50}, {"name": "B", "min": 10}]}}, "scoring.grades", "last band"),
        ({"scoring": {"carry": ["r_score", "shoe_size"]}}, "scoring.carry.1", "undefined feature column 'shoe_size'"),
        (
            {"scoring": {"targets": {"churn_60d": {"prefix": "repurchase"}}}},
            "scoring.targets",
            "distinct prefixes",
        ),
        (
            {"scoring": {"targets": {"vip_promotion_90d": {"prefix": "vip2"}}}},
            "scoring.scores_table",
            "declaring columns ['vip_probability'",
        ),
    ],
)
def test_bad_scoring_config_fails_at_load(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, overrides)
    assert caught.value.key_path == key
    assert message in caught.value.found + caught.value.expected


def test_a_scored_target_cuts_with_its_model_targets_tiers_only(tmp_path):
    tiers = [{"name": "hot", "above": 0.8}, {"name": "warm", "min": 0.4}, {"name": "cold"}]
    config = make_config(tmp_path, {"models": {"targets": {"churn_60d": {"tiers": tiers}}}})
    got = [(b.name, b.above, b.min) for b in config.scoring.targets["churn_60d"].tiers]
    assert got == [("hot", 0.8, None), ("warm", None, 0.4), ("cold", None, None)]
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"scoring": {"targets": {"churn_60d": {"tiers": tiers}}}})
    assert (caught.value.key_path, caught.value.found) == ("scoring.targets.churn_60d.tiers", "unknown key 'tiers'")


def test_a_band_bound_holds_above_strictly_and_from_min_inclusively():
    above, least = Band(name="a", above=0.5), Band(name="m", min=0.5)
    assert [above.holds(p) for p in (0.49, 0.5, 0.51)] == [False, False, True]
    assert [least.holds(p) for p in (0.49, 0.5, 0.51)] == [False, True, True]


def test_wide_table_has_change_data_feed_and_score_columns(config):
    wide = config.tables["tags.user_tag_wide"]
    assert wide.properties["delta.enableChangeDataFeed"] == "true"
    assert wide.key == ("user_id",) and wide.open_schema
    expected = ["user_id", "as_of_date", *config.scoring.output_columns(config.btyd_score_columns())]
    assert list(config.tables["scores.user_scores"].column_names) == expected
    assert list(wide.column_names) == expected
