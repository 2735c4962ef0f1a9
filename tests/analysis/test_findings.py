"""The headline findings read from the written aggregates (pandas only): hand-made tables, hand-worked lines."""

from __future__ import annotations

import pandas as pd

from userscore.analysis.findings import consumption_lines, funnel_lines, interest_lines, path_lines, profile_lines


def test_funnel_line_names_the_step_that_loses_most_users():
    steps = pd.DataFrame(
        [
            ("f", "all", "all", 1, "view", 200, 0.0),
            ("f", "all", "all", 2, "cart", 150, 0.25),
            ("f", "all", "all", 3, "order", 30, 0.8),
            ("f", "grade", "A", 1, "view", 10, 0.0),
        ],
        columns=["funnel", "breakdown", "breakdown_value", "step", "step_name", "users", "drop_off_rate"],
    )
    # 30 / 200 = 15%; cart -> order loses 80% of those at cart.
    assert funnel_lines(steps) == [
        "funnel f: 200 entered, 30 converted (15.0%); biggest drop cart -> order (80.0% lost)"
    ]


def test_path_line_gives_the_top_path_and_the_top_multi_step_path():
    paths = pd.DataFrame(
        [("all", 1, "product", 1, 0.4), ("all", 2, "search > product", 2, 0.1), ("starting", 1, "x > y", 2, 0.9)],
        columns=["kind", "rank", "path", "depth", "share"],
    )
    assert path_lines(paths) == [
        "most common session path: product (40.0% of sessions); most common with several steps: search > product (10.0%)"
    ]


def test_consumption_line_orders_the_top_shares_by_size():
    summary = pd.DataFrame(
        {
            "measure": ["revenue", "top_10pct_revenue_share", "buyers", "gini", "top_1pct_revenue_share"],
            "value": [12345.6, 0.5, 40.0, 0.4567, 0.12],
        }
    )
    assert consumption_lines(summary) == [
        "40 buyers, revenue 12,346; top 1% of buyers bring 12%; top 10% of buyers bring 50%; Gini 0.457"
    ]


def test_interest_lines_give_the_most_common_interest_and_the_conversion_extremes():
    share = pd.DataFrame(
        [
            ("grade", "A", "books", 0.3),
            ("grade", "B", "books", 0.3),
            ("grade", "A", "toys", 0.5),
            ("grade", "A", "none", 0.9),
        ],
        columns=["breakdown", "group_value", "category", "population_share"],
    )
    conversion = pd.DataFrame(
        [("books", 10, 0.2, 14), ("toys", 20, 0.45, 14), ("home", 0, 0.0, 14)],
        columns=["category", "interested_users", "conversion_rate", "window_days"],
    )
    assert interest_lines(share, conversion) == [
        "most common interest: toys (50.0% of users)",
        "interest converts best in toys (45.0% buy within 14 days) and worst in books (20.0%)",
    ]


def test_profile_line_sums_one_dimension_per_grade():
    distribution = pd.DataFrame(
        [
            ("age_band", "18-24", "grade", "A", 1, 300.0),
            ("age_band", "25-34", "grade", "A", 1, 300.0),
            ("age_band", "18-24", "grade", "B", 2, 400.0),
            ("region", "north", "grade", "A", 2, 600.0),  # another dimension: the same users again
            ("age_band", "18-24", "all", "all", 4, 1000.0),
        ],
        columns=["dimension", "value", "breakdown", "breakdown_value", "users", "spend"],
    )
    # Grade A: 2 of 4 users, 600 of 1000 spend; grade B: 2 of 4 users, 400 of 1000.
    assert profile_lines(distribution) == ["by grade: A 50% of users / 60% of spend, B 50% of users / 40% of spend"]
