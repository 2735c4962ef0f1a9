"""The profile and consumption report section from hand-made table frames (pandas, no Spark)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import REPO
from userscore.analysis.report_consumption import section
from userscore.config import load_config


@pytest.fixture(scope="module")
def config():
    return load_config(env="local", conf_dir=REPO / "conf")


def _frames(payment: bool = True) -> dict[str, pd.DataFrame]:
    profile = pd.DataFrame(
        [
            ("gender", "female", "all", "all", 2, 2 / 3, 60.0, 60 / 130),
            ("gender", "male", "all", "all", 1, 1 / 3, 70.0, 70 / 130),
            ("tenure_band", "0-90d", "all", "all", 3, 1.0, 130.0, 1.0),
            ("gender", "female", "grade", "A", 1, 0.5, 60.0, 60 / 130),
            ("gender", "male", "grade", "A", 1, 0.5, 70.0, 70 / 130),
            ("gender", "female", "grade", "B", 1, 1.0, 0.0, None),
            ("tenure_band", "0-90d", "grade", "A", 2, 1.0, 130.0, 1.0),
            ("tenure_band", "0-90d", "grade", "B", 1, 1.0, 0.0, None),
        ],
        columns=["dimension", "value", "breakdown", "breakdown_value", "users", "share", "spend", "spend_share"],
    )
    rf = pd.DataFrame(
        [(5, 3, 2, 0.5, 60.0, 60 / 170, 30.0), (3, 1, 1, 0.25, 70.0, 70 / 170, 70.0), (4, 1, 1, 0.25, 40.0, 40 / 170, 40.0)],
        columns=["recency_score", "frequency_score", "users", "user_share", "revenue", "revenue_share", "revenue_per_user"],
    )  # fmt: skip
    lorenz = pd.DataFrame(
        [(0, 0, 0.0, 0.0), (1, 1, 0.25, 0.0), (2, 2, 0.5, 40 / 170), (3, 3, 0.75, 100 / 170), (4, 4, 1.0, 1.0)],
        columns=["point", "buyers", "population_share", "revenue_share"],
    )
    summary = pd.DataFrame(
        [("buyers", 4.0), ("revenue", 170.0), ("gini", 23 / 68), ("top_10pct_revenue_share", 70 / 170),
         ("coupon_order_share", 0.5), ("median_repurchase_days", None)],
        columns=["measure", "value"],
    )  # fmt: skip
    mix = pd.DataFrame(
        [("all", "all", "books", 2, 3, 0.5, 30.0, 30 / 170), ("all", "all", "toys", 1, 3, 0.5, 140.0, 140 / 170),
         ("retention", "low_risk", "books", 1, 1, 1.0, 0.0, None)],
        columns=["family", "segment", "category", "buyers", "orders", "order_share", "revenue", "revenue_share"],
    )  # fmt: skip
    promotion = pd.DataFrame(
        [("all", "all", 4, 6, 3, 0.5, 192.0, 22.0, 22 / 192, 2, 0.5)],
        columns=["family", "segment", "buyers", "orders", "coupon_orders", "coupon_order_share", "gross_amount",
                 "discount_amount", "discount_rate", "coupon_dependent_buyers", "coupon_dependent_share"],
    )  # fmt: skip
    dist = pd.DataFrame(
        [("order_value", 1, 0.0, 10.0, 1, 0.5), ("order_value", 2, 10.0, None, 1, 0.5),
         ("repurchase_days", 1, 0.0, 7.0, 0, 0.0), ("repurchase_days", 2, 7.0, None, 2, 1.0)],
        columns=["measure", "bin", "lower", "upper", "count", "share"],
    )  # fmt: skip
    columns = ["family", "segment", "payment_method", "orders", "order_share", "revenue", "revenue_share"]
    rows = [("all", "all", "card", 3, 0.5, 80.0, 80 / 170), ("all", "all", "wallet", 3, 0.5, 90.0, 90 / 170)]
    return {
        "analysis.profile_distribution": profile,
        "analysis.rf_grid": rf,
        "analysis.lorenz_curve": lorenz,
        "analysis.consumption_summary": summary,
        "analysis.category_mix": mix,
        "analysis.promotion_dependence": promotion,
        "analysis.consumption_distributions": dist,
        "analysis.payment_mix": pd.DataFrame(rows if payment else [], columns=columns),
    }


def test_section_has_every_chart_and_the_headline_figures(config):
    page = section(_frames(), config)
    assert re.findall(r"<h2>(.*?)</h2>", page) == [
        "Who the users are (basic profile)",
        "How buyers spend (consumption)",
    ]
    alts = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,', page)
    assert alts == [
        "profile distributions",
        "profile by grade",
        "R x F heat map",
        "Lorenz curve",
        "Category mix by segment (share of revenue)",
        "order value and repurchase interval histograms",
        "Payment methods by segment (share of orders)",
    ]
    # Hand-worked: Gini 23/68 = 0.338; top 10% share 70/170 = 41.2%; 2 of 4 buyers coupon dependent.
    assert "<td>Gini of spend (0 = equal, 1 = one buyer has all)</td><td>0.338</td>" in page
    assert "<td>Revenue share of the top 10% buyers</td><td>41.2%</td>" in page
    assert "Gini 0.338; revenue share of the top buyers: top 1%: -, top 10%: 41.2%, top 20%: -." in page
    assert "<td>all buyers</td><td>4</td><td>50.0%</td><td>11.5%</td><td>50.0%</td>" in page
    assert "<td>Median days between orders</td><td>-</td>" in page
    assert "<script" not in page and 'src="http' not in page  # self-contained


def test_without_payment_methods_the_section_says_so_instead_of_a_chart(config):
    page = section(_frames(payment=False), config)
    assert "The orders carry no payment method: no payment mix." in page
    assert "Payment methods by segment" not in page


def test_an_empty_snapshot_gives_notes_not_errors(config):
    frames = {name: df.iloc[0:0] for name, df in _frames().items()}
    page = section(frames, config)
    assert "<img" not in page
    assert "No scored users at this snapshot." in page
    assert "R x F grid: no scored buyers with RFM scores." in page
