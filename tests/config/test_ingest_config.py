"""ingest.earliest_date: its default, an overlay value, and the values it refuses (file, key, found, expected)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from userscore.config import load_config
from userscore.errors import ConfigError


def _overlay(conf: Path, text: str) -> Path:
    path = conf / "local" / "ingest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_earliest_date_comes_from_base_and_an_overlay_sets_it(conf):
    base = yaml.safe_load((conf / "base" / "ingest.yaml").read_text(encoding="utf-8"))["ingest"]["earliest_date"]
    assert load_config(env="local", conf_dir=conf).ingest.earliest_date == base
    _overlay(conf, "ingest:\n  earliest_date: 2010-06-01\n")
    assert load_config(env="local", conf_dir=conf).ingest.earliest_date == dt.date(2010, 6, 1)


@pytest.mark.parametrize(
    ("value", "found", "expected"),
    [
        (
            "0001-01-01",
            "datetime.date(1, 1, 1) (date)",
            "1678-01-01 or later (nanosecond timestamps start in 1677), got 0001-01-01",
        ),
        (
            "1677-12-31",
            "datetime.date(1677, 12, 31) (date)",
            "1678-01-01 or later (nanosecond timestamps start in 1677), got 1677-12-31",
        ),
        ("'2000-01-01T00:00:00Z'", "'2000-01-01T00:00:00Z' (str)", "a date (YYYY-MM-DD)"),
    ],
)
def test_earliest_date_refused_values_name_file_key_found_expected(conf, value, found, expected):
    path = _overlay(conf, f"ingest:\n  earliest_date: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    err = caught.value
    assert (err.file, err.key_path, err.found, err.expected) == (str(path), "ingest.earliest_date", found, expected)
