"""generate.campaigns: the base's campaigns load, a bad campaign fails at load naming file, key and what was
expected, and an overlay can drop them all. No Spark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from userscore.config import load_config
from userscore.errors import ConfigError


def _error(conf: Path, text: str) -> ConfigError:
    path = conf / "local" / "generate.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    assert caught.value.file == str(path)
    return caught.value


def test_base_campaigns_are_sent_in_date_order_inside_the_history():
    cfg = load_config(env="local").generate
    schedule = cfg.campaign_schedule()
    assert [(cid, day) for cid, _, day in schedule] == [
        ("winback-1", dt.date(2026, 3, 6)),
        ("winback-2", dt.date(2026, 5, 5)),
        ("winback-3", dt.date(2026, 7, 4)),
        ("blast-1", dt.date(2026, 9, 2)),
    ]
    assert [c.control_share for _, c, _ in schedule] == [0.4, 0.5, 0.4, 0.0]
    # Sends move with end_date; ties in date go by id.
    moved = load_config(env="local", overrides={"generate": {"end_date": "2026-01-01"}}).generate
    assert moved.campaign_schedule()[0][2] == dt.date(2026, 1, 1) - dt.timedelta(days=240)
    same_day = {"generate": {"campaigns": {"winback-2": {"days_before_end": 240}}}}
    order = [cid for cid, _, _ in load_config(env="local", overrides=same_day).generate.campaign_schedule()]
    assert order == ["winback-1", "winback-2", "winback-3", "blast-1"]
    assert load_config(env="local", overrides={"generate": {"campaigns": None}}).generate.campaigns == {}


@pytest.mark.parametrize(
    ("overlay", "key_path", "expected"),
    [
        (
            "    winback-1:\n      type: coupon_flash\n",
            "generate.campaigns",
            "campaign 'winback-1' has type 'coupon_flash', not one of campaign_types ['coupon_winback']",
        ),
        (
            "    winback-1:\n      channel: fax\n",
            "generate.campaigns",
            "campaign 'winback-1' has channel 'fax', not one of campaign_channels ['sms', 'email', 'app_push', 'phone']",
        ),
        (
            "    winback-1:\n      days_before_end: 30\n",
            "generate.campaigns.winback-1.days_before_end",
            "more than window_days (30), so that the attribution window of a send (10:00-12:00 UTC on its day) "
            "ends inside the history, got 30",
        ),
        (
            "    winback-1:\n      days_before_end: 800\n",
            "generate.campaigns",
            "campaign 'winback-1' is sent 800 days before end_date, before the history starts (history_days 730)",
        ),
        (
            "    winback-1:\n      audience: {min_days_since_order: 90, max_days_since_order: 60}\n",
            "generate.campaigns.winback-1.audience.max_days_since_order",
            "at least min_days_since_order (90), got 60",
        ),
        (
            "    winback-1:\n      window_days: 7\n",
            "generate.campaigns",
            "campaign 'winback-1': its type's leave_within_days (14) exceeds its window_days (7); a contact's "
            "leavers must leave inside the window",
        ),
        (
            "    winback-1:\n      control_share: 1.0\n",
            "generate.campaigns.winback-1.control_share",
            "a number in [0, 1)",
        ),
        (
            "    winback-1:\n      responses: {opened: 1.5}\n",
            "generate.campaigns.winback-1.responses.opened",
            "a number in [0, 1]",
        ),
        (
            "    winback-1:\n      family: Retention\n",
            "generate.campaigns.winback-1.family",
            "a lower_snake_case name, got 'Retention'",
        ),
    ],
    ids=["type", "channel", "window", "before history", "audience", "leave", "control", "response", "family"],
)
def test_a_bad_campaign_fails_at_load_naming_the_key(conf, overlay, key_path, expected):
    err = _error(conf, "generate:\n  campaigns:\n" + overlay)
    assert (err.key_path, err.expected) == (key_path, expected)


def test_a_bad_campaign_id_fails_at_load(conf):
    complete = (conf / "base" / "generate.yaml").read_text(encoding="utf-8")
    complete = complete.replace("    winback-1:\n", "    Winback|1:\n")
    (conf / "base" / "generate.yaml").write_text(complete, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    assert caught.value.key_path == "generate.campaigns"
    assert caught.value.expected.startswith(
        "ids of lower-case letters, digits, '_' and '-' starting with a letter (at most 64), got ['Winback|1']"
    )
