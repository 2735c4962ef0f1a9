"""The analysis.interests section: bad values fail at load, undefined references are listed (no Spark)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import make_config
from userscore.config.interests import reference_errors
from userscore.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        (
            {"breakdowns": {"columns": ["grade", "grade"]}},
            "analysis.interests.breakdowns.columns",
            "distinct column names",
        ),
        (
            {"breakdowns": {"columns": [], "segment_families": False}},
            "analysis.interests.breakdowns.columns",
            "nothing to group by",
        ),
        ({"conversion": {"event_types": []}}, "analysis.interests.conversion.event_types", "at least one event type"),
        ({"conversion": {"window_days": 0}}, "analysis.interests.conversion.window_days", "an integer in [1, 36525]"),
        ({"conversion": {"order_where": {"is_refunded": []}}}, "analysis.interests.conversion", "at least one allowed"),
    ],
)
def test_bad_interest_analysis_config_fails_at_load(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, {"analysis": {"interests": overrides}})
    assert error.value.key_path == key
    assert message in str(error.value)


def test_reference_errors_name_undefined_tables_and_columns(tmp_path):
    config = make_config(tmp_path)
    section, inputs = config.analysis.interests, config.analysis.inputs
    assert list(reference_errors(section, inputs, config.tables)) == []
    bad = dataclasses.replace(
        section,
        tables=dataclasses.replace(section.tables, share="analysis.interest_shares"),
        breakdowns=dataclasses.replace(section.breakdowns, columns=("grade", "grde")),
    )
    errors = list(reference_errors(bad, inputs, config.tables))
    assert [(path, found) for path, found, _ in errors] == [
        (("analysis", "interests", "tables", "share"), "undefined table 'analysis.interest_shares'"),
        (("analysis", "interests", "breakdowns", "columns", "1"), "undefined column 'grde' of scores.user_scores"),
    ]


def test_breakdown_columns_are_those_of_the_scores_input(tmp_path):
    config = make_config(tmp_path)
    section = config.analysis.interests
    users_as_scores = dataclasses.replace(config.analysis.inputs, scores="silver.users")
    assert [(path, found) for path, found, _ in reference_errors(section, users_as_scores, config.tables)] == [
        (("analysis", "interests", "breakdowns", "columns", "0"), "undefined column 'grade' of silver.users"),
        (("analysis", "interests", "breakdowns", "columns", "1"), "undefined column 'rfm_segment' of silver.users"),
    ]
    # An undefined input is named by analysis.inputs' own check, not again here.
    undefined = dataclasses.replace(config.analysis.inputs, scores="scores.nowhere")
    assert list(reference_errors(section, undefined, config.tables)) == []
