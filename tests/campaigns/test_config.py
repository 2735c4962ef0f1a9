"""The campaigns section: breakdown dimensions, campaign types by id pattern, decile breakdowns of numeric
score columns only (each error names the key and what was found)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.errors import ConfigError


def _load(overrides: dict):
    return load_config(env="local", conf_dir=REPO / "conf", overrides={"campaigns": overrides})


def test_campaign_types_match_ids_by_pattern_in_order():
    cfg = _load(
        {
            "types": {
                "early": {"campaigns": ["winback-2026-0*"], "window_days": 7, "margin_rate": 0.2, "contact_cost": 0.1}
            }
        }
    )
    # The overlay adds a type after the base ones: a base pattern that matches first wins.
    assert cfg.campaigns.type_of("winback-2026-03") == "coupon_winback"
    assert cfg.campaigns.type_of("vip-1") == "vip_preview"
    assert cfg.campaigns.type_of("newsletter-1") is None


@pytest.mark.parametrize(
    ("breakdowns", "found"),
    [
        ({"all": {"dimensions": ["segment"]}}, "the whole campaign, always measured as 'all'"),
        ({"bad": {"dimensions": ["region"]}}, "got ['region']"),
        ({"twice": {"dimensions": ["segment", "segment"]}}, "got ['segment', 'segment']"),
        ({"none": {"dimensions": []}}, "got []"),
    ],
)
def test_bad_breakdowns_fail_naming_the_key(breakdowns, found):
    with pytest.raises(ConfigError) as caught:
        _load({"breakdowns": breakdowns})
    name = next(iter(breakdowns))
    assert (
        "at campaigns:" in str(caught.value)
        and found in str(caught.value)
        and f"breakdowns.{name}" in str(caught.value)
    )


def test_deciles_of_a_string_score_column_are_refused():
    with pytest.raises(ConfigError) as caught:
        _load({"breakdowns": {"tiers": {"dimensions": ["churn_tier_decile"]}}})
    assert "campaigns.breakdowns.tiers.dimensions" in str(caught.value)
    assert "churn_tier_decile: deciles of churn_tier, a string column" in str(caught.value)


def test_an_overlay_drops_a_breakdown_with_null():
    cfg = _load({"breakdowns": {"channel": None}}).campaigns
    assert list(cfg.breakdowns) == ["segment", "churn_tier", "repurchase_decile"]
    assert cfg.breakdowns["segment"].dimensions == ("family", "segment")


def test_a_score_column_the_scores_table_lacks_is_refused():
    with pytest.raises(ConfigError) as caught:
        _load({"score_columns": ["churn_tier", "repurchase_probability", "no_such_score"]})
    assert "campaigns.score_columns" in str(caught.value) and "['no_such_score']" in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "found"),
    [
        ("no_such_feature > 0", "unknown column 'no_such_feature'"),
        ("recency_days > 30; DROP TABLE x", "unexpected '; DROP TABLE x' at character 18"),
    ],
)
def test_an_eligibility_rule_outside_the_safe_subset_or_the_features_is_refused(rule, found):
    with pytest.raises(ConfigError) as caught:
        _load({"types": {"coupon_winback": {"uplift": {"eligible": rule}}}})
    assert "campaigns.types.coupon_winback.uplift.eligible" in str(caught.value)
    assert "invalid eligibility rule for 'coupon_winback'" in str(caught.value) and found in str(caught.value)


def test_the_scored_type_carries_its_eligibility_rule():
    cfg = _load({"types": {"coupon_winback": {"uplift": {"eligible": "recency_days >= 60"}}}})
    assert cfg.scoring.uplift["coupon_winback"].eligible == "recency_days >= 60"
