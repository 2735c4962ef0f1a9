"""The interests report section from hand-made table partitions (pandas only, no Spark)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from tests.conftest import make_config
from userscore.analysis.report_interests import section

D = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_config(tmp_path_factory.mktemp("interests-report"))


def _share() -> pd.DataFrame:
    rows = []
    for breakdown, group, size, cells in (
        ("grade", "A", 2, {"books": 2, "toys": 1}),
        ("grade", "B", 1, {"none": 1}),
        ("segment:retention", "winback", 2, {"books": 1, "none": 1}),
    ):
        for category, users in cells.items():
            rows.append((D, breakdown, group, category, users, size, users / size, 0.5, users / size / 0.5))
    columns = ["as_of_date", "breakdown", "group_value", "category", "users", "group_users", "share"]
    return pd.DataFrame(rows, columns=[*columns, "population_share", "lift"])


def _conversion() -> pd.DataFrame:
    return pd.DataFrame(
        [(D, "books", 2, 1, 0.5, 5.0, 14), (D, "toys", 4, 3, 0.75, 3.0, 14), (D, "beauty", 5, 1, 0.2, 0.25, 14), (D, "home", 0, 0, 0.0, None, 14)],
        columns=[
            "as_of_date", "category", "interested_users", "converted_users", "conversion_rate",
            "median_days_to_purchase", "window_days",
        ],
    )  # fmt: skip


def test_heat_maps_per_breakdown_segments_first_and_the_conversion_table(config):
    tables = config.analysis.interests.tables
    out = section({tables.share: _share(), tables.conversion: _conversion()}, config)
    alts = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', out)
    assert alts == [
        "interest heat map by segment:retention",
        "interest heat map by grade",
        "interest-to-purchase conversion by category",
    ]
    assert out.startswith("<h2>Interest preference</h2>") and "at least 14 days before 2026-03-01" in out
    body = out[out.index("<tbody>") :]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in rows]
    # Highest conversion first; under a day in hours; no converters: no median ("-").
    assert cells == [
        ["toys", "4", "3", "75.0%", "3.0 days"],
        ["books", "2", "1", "50.0%", "5.0 days"],
        ["beauty", "5", "1", "20.0%", "6.0 h"],
        ["home", "0", "0", "0.0%", "-"],
    ]


def test_empty_partitions_say_so(config):
    tables = config.analysis.interests.tables
    empty_share = _share().iloc[0:0]
    out = section({tables.share: empty_share, tables.conversion: _conversion().iloc[0:0]}, config)
    assert "No interest shares for this date." in out and "No conversion figures for this date." in out
    assert "<img" not in out
