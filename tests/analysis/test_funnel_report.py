"""The funnel report section from a hand-made steps table (pandas only, no Spark)."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from userscore.analysis.report_funnels import section

COLUMNS = [
    "funnel", "breakdown", "breakdown_value", "step", "step_name", "users", "conversion_from_previous",
    "conversion_from_first", "dropped", "drop_off_rate", "median_seconds_from_previous", "p90_seconds_from_previous",
]  # fmt: skip
N = float("nan")
ROWS = [
    ("browse_to_order", "all", "all", 1, "product_view", 4, 1.0, 1.0, 0, 0.0, N, N),
    ("browse_to_order", "all", "all", 2, "add_to_cart", 3, 0.75, 0.75, 1, 0.25, 60.0, 120.0),
    ("browse_to_order", "all", "all", 3, "order", 2, 2 / 3, 0.5, 1, 1 / 3, 70.0, 7200.0),
    ("browse_to_order", "grade", "A", 1, "product_view", 2, 1.0, 1.0, 0, 0.0, N, N),
    ("browse_to_order", "grade", "A", 2, "add_to_cart", 2, 1.0, 1.0, 0, 0.0, 60.0, 120.0),
    ("browse_to_order", "grade", "A", 3, "order", 1, 0.5, 0.5, 1, 0.5, 540.0, 540.0),
    ("browse_to_order", "grade", "B", 1, "product_view", 1, 1.0, 1.0, 0, 0.0, N, N),
    ("browse_to_order", "grade", "B", 2, "add_to_cart", 0, 0.0, 0.0, 1, 1.0, N, N),
    ("browse_to_order", "grade", "B", 3, "order", 0, N, 0.0, 0, N, N, N),
]


def _text(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "|", fragment)


def test_section_has_chart_step_table_and_breakdowns(config):
    frames = {"analysis.funnel_steps": pd.DataFrame(ROWS, columns=COLUMNS)}
    out = section(frames, config)
    assert out.startswith("<h2>Funnels</h2>")
    assert out.count('<img alt="funnel browse_to_order" src="data:image/png;base64,') == 1
    text = _text(out)
    # step 2: 3 users, 75% of the previous and of step 1, 1 dropped, median 60 s = 1 min, p90 2 min
    assert "|2. add_to_cart||3||75.0%||75.0%||1||1.0 min||2.0 min|" in text
    assert "|3. order||2||66.7%||50.0%||1||1.2 min||2.0 h|" in text
    # grade A: 2 entered, 1 converted, weakest step the order (half lost); grade B lost everyone at the cart
    assert "|grade||A||2||1||50.0%||order (50% lost)|" in text
    assert "|grade||B||1||0||0.0%||add_to_cart (100% lost)|" in text
    # funnels without rows say so instead of drawing an empty chart
    assert "<h3>search_to_order: " in out and out.count("Nobody entered this funnel.") == 2


def test_section_without_rows_says_so(config):
    out = section({}, config)
    assert "No funnel results for this date." in out and "<img" not in out


def test_other_breakdown_value_is_explained(config):
    other = [("browse_to_order", "grade", "(other)", k, n, u, 1.0, 1.0, 0, 0.0, N, N) for k, n, u in (
        (1, "product_view", 5), (2, "add_to_cart", 5), (3, "order", 5),
    )]  # fmt: skip
    out = section({"analysis.funnel_steps": pd.DataFrame(ROWS + other, columns=COLUMNS)}, config)
    assert "|grade||(other)||5||5||100.0%|" in _text(out)
    assert "(other) sums the values of a breakdown beyond its 50 largest (by users at step 1)." in out
    assert "(other) sums" not in section({"analysis.funnel_steps": pd.DataFrame(ROWS, columns=COLUMNS)}, config)


def test_section_without_funnels_says_none_are_configured(config):
    off = dataclasses.replace(config.analysis.funnels, funnels={})
    out = section({}, dataclasses.replace(config, analysis=dataclasses.replace(config.analysis, funnels=off)))
    assert "No funnels are configured (analysis.funnels.funnels)." in out and "<h3>" not in out
