"""The ``btyd`` config section: derived settings, and clear errors on bad values or references."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from userscore.config import load_config
from userscore.errors import ConfigError


def _load(overrides: dict):
    return load_config(env="local", conf_dir=REPO / "conf", overrides={"btyd": overrides})


def test_unit_and_fit_resolution_follow_the_time_unit_unless_set() -> None:
    # unit_days is derived from time_unit; the fit groups t_x and T at one unit unless fit_resolution_days is set.
    weeks = _load({"time_unit": "weeks", "fit_resolution_days": None}).btyd
    assert (weeks.unit_days, weeks.resolution_days) == (7, 7)
    days = _load({"time_unit": "days", "fit_resolution_days": None}).btyd
    assert (days.unit_days, days.resolution_days) == (1, 1)
    assert _load({"time_unit": "weeks", "fit_resolution_days": 1}).btyd.resolution_days == 1


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"time_unit": "months"}, "btyd.time_unit", "one of 'days', 'weeks'"),
        ({"calibration_days": 0}, "btyd.calibration_days", "an integer in [1, 36525] (or null)"),
        ({"fit_resolution_days": 0}, "btyd.fit_resolution_days", "an integer in [1, 28] (or null)"),
        ({"scoring": {"horizons_days": [30, 30]}}, "btyd.scoring.horizons_days", "distinct horizons"),
        ({"scoring": {"clv_step_days": 400}}, "btyd.scoring.clv_step_days", "between 1 and clv_horizon_days"),
        ({"summary_table": "features.nope"}, "btyd.summary_table", "one of ["),
        ({"orders_table": "silver.events"}, "btyd.orders_table", "a table declaring columns ['user_id', 'order_ts'"),
        ({"horizon": 30}, "btyd.horizon", "one of: calibration_days, exclude_refunded, fit_resolution_days"),
    ],
)
def test_bad_values_and_references_fail_with_the_key(overrides: dict, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(overrides)
    assert error.value.key_path == key
    assert error.value.file == "<override>"
    assert expected in error.value.expected
