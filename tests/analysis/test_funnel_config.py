"""Funnel config: bad funnels fail at load naming the key; references are checked (no Spark)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import make_config
from userscore.config.funnels import Condition, reference_errors
from userscore.errors import ConfigError

STEPS = [{"name": "view", "source": "events", "event_types": ["page_view"]}, {"name": "order", "source": "orders"}]
AUDIENCE = {"strategy": "s", "channel": "c", "control_share": 0.1}


def _load(tmp_path, **funnel):
    spec = {"window": 7, "window_unit": "days", "steps": STEPS, "audience": AUDIENCE} | funnel
    return make_config(tmp_path, {"analysis": {"funnels": {"funnels": {"bad": spec}}}})


@pytest.mark.parametrize(
    ("funnel", "message"),
    [
        ({"window": 366}, "bad.window: found 366 (int); expected at most 365 days, got 366 days"),
        (
            {"window": 8761, "window_unit": "hours"},
            "bad.window: found 8761 (int); expected at most 365 days, got 8761 hours",
        ),
        ({"exclusions": [{"name": "x", "source": "events", "from_step": 2, "to_step": 2}]}, "from_step < to_step"),
        ({"steps": [{"name": "o", "source": "orders", "pages": ["cart"]}]}, "only for source events"),
        ({"steps": [STEPS[0], STEPS[0]]}, "distinct step names"),
        ({"window_unit": "weeks"}, "one of 'seconds', 'minutes', 'hours', 'days'"),
    ],
)
def test_bad_funnel_fails_at_load_naming_the_funnel(tmp_path, funnel, message):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, **funnel)
    assert caught.value.key_path.startswith("analysis.funnels.funnels.bad")
    assert message in str(caught.value)


def test_base_funnels_have_no_reference_errors(config):
    analysis = config.analysis
    assert list(reference_errors(analysis.funnels, analysis.inputs, config.tables, config.segments.families)) == []
    assert config.analysis.funnels.funnels["browse_to_order"].window_seconds == 7 * 86_400


def test_references_to_unknown_columns_families_and_tables(config):
    section = config.analysis.funnels
    funnel = section.funnels["browse_to_order"]
    bad_where = Condition(name="order", source="orders", where="voucher_code IS NOT NULL")
    broken = dataclasses.replace(
        section,
        funnels={"browse_to_order": dataclasses.replace(funnel, steps=(*funnel.steps[:2], bad_where))},
        breakdowns=("grade", "shoe_size", "segment:nope"),
        tables=dataclasses.replace(section.tables, dropped="analysis.nowhere"),
    )
    errors = {
        (".".join(k), found)
        for k, found, _ in reference_errors(broken, config.analysis.inputs, config.tables, config.segments.families)
    }
    assert errors == {
        ("analysis.funnels.tables.dropped", "undefined table 'analysis.nowhere'"),
        ("analysis.funnels.funnels.browse_to_order.steps.2.where", "invalid condition: unknown column 'voucher_code'"),
        ("analysis.funnels.breakdowns", "undefined column 'shoe_size'"),
        ("analysis.funnels.breakdowns", "unknown segment family 'nope'"),
    }


def test_step_and_breakdown_columns_are_those_of_the_analysis_inputs(config):
    # The orders input pointed at the events (no channel column) and the users input at the segment
    # members (no registration_channel, no region): the base funnels' references break exactly there.
    inputs = dataclasses.replace(config.analysis.inputs, orders="silver.events", users="audiences.segment_members")
    errors = sorted(
        (".".join(k), found, expected)
        for k, found, expected in reference_errors(
            config.analysis.funnels, inputs, config.tables, config.segments.families
        )
    )
    breakdown_tables = "a column of ['scores.user_scores', 'audiences.segment_members'] or segment:<family>"
    assert errors == [
        ("analysis.funnels.breakdowns", "undefined column 'region'", breakdown_tables),
        ("analysis.funnels.breakdowns", "undefined column 'registration_channel'", breakdown_tables),
        (
            "analysis.funnels.funnels.browse_to_order.steps.2.where",
            "invalid condition: unknown column 'channel'",
            "a rule over the columns of silver.events",
        ),
    ]


def test_an_undefined_input_is_left_to_the_inputs_check(config):
    inputs = dataclasses.replace(config.analysis.inputs, scores="scores.nowhere")
    assert list(reference_errors(config.analysis.funnels, inputs, config.tables, config.segments.families)) == []


def test_breakdowns_are_few_valued_non_key_columns(config):
    # grade (string) and r_score (int) are fine; a double score, a timestamp and user_id have a value per
    # user. user_id is a column of both inputs: the scores (read first) are named.
    section = dataclasses.replace(
        config.analysis.funnels, breakdowns=("grade", "r_score", "rfm_score", "registered_at", "user_id")
    )
    errors = sorted(
        found
        for _, found, _ in reference_errors(section, config.analysis.inputs, config.tables, config.segments.families)
    )
    assert errors == [
        "column 'registered_at' of silver.users is type timestamp",
        "column 'rfm_score' of scores.user_scores is type double",
        "column 'user_id' of scores.user_scores is a key column",
    ]
    expected = {e for _, _, e in reference_errors(section, config.analysis.inputs, config.tables, [])}
    assert expected == {"a non-key string/int/boolean column or segment:<family>"}


def test_report_top_values_within_the_kept_breakdown_values(tmp_path):
    overlay = {"analysis": {"funnels": {"report_top_values": 9, "max_breakdown_values": 8}}}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, overlay)
    assert str(caught.value) == (
        "config error in <override> at analysis.funnels.report_top_values: found 9 (int); "
        "expected at most max_breakdown_values (8), got 9"
    )


def test_an_overlay_can_switch_the_funnels_off(tmp_path):
    # null over the mapping removes it (the overlay rule; {} would merge into the base funnels).
    config = make_config(tmp_path, {"analysis": {"funnels": {"funnels": None}}})
    section = config.analysis.funnels
    assert dict(section.funnels) == {}
    assert list(reference_errors(section, config.analysis.inputs, config.tables, config.segments.families)) == []
