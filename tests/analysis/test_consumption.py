"""Consumption analysis vs hand-worked figures and plain Python / numpy over the same rows."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np
import pytest

from tests.analysis.consumption_world import ORDERS, SCORES, SEGMENTS, D, inputs, kept
from userscore.analysis import consumption
from userscore.analysis.consumption import spend_concentration

TABLES = {
    "rf": "analysis.rf_grid",
    "lorenz": "analysis.lorenz_curve",
    "summary": "analysis.consumption_summary",
    "category": "analysis.category_mix",
    "promotion": "analysis.promotion_dependence",
    "dist": "analysis.consumption_distributions",
    "payment": "analysis.payment_mix",
}


NO_VALUE = "(no value)"  # the test's own analysis.missing_label


def _small(config, **changes):
    """``config`` with its consumption section changed (lorenz_points, top_shares, rank_buckets...)."""
    section = dataclasses.replace(config.analysis.consumption, **changes)
    analysis = dataclasses.replace(config.analysis, consumption=section, missing_label=NO_VALUE)
    return dataclasses.replace(config, analysis=analysis)


@pytest.fixture(scope="module")
def result(spark, tmp_path_factory):
    from tests.conftest import make_config

    config = _small(make_config(tmp_path_factory.mktemp("c")), lorenz_points=4, top_shares=(0.25, 0.5), rank_buckets=3)
    output = consumption.analyse(inputs(spark, config), config)
    tables = {key: [r.asDict() for r in output.tables[name].collect()] for key, name in TABLES.items()}
    return tables, output.summary


def _close(got, want):
    assert len(got) == len(want), (got, want)
    for key in want:
        assert got[key] == pytest.approx(want[key]), key


def test_every_row_is_dated_d(result):
    tables, _ = result
    assert {r["as_of_date"] for rows in tables.values() for r in rows} == {D}


def test_spend_concentration_hand_worked(result):
    # Kept spend per buyer: u3 0, u4 40, u1 60, u2 70 (n = 4, T = 170).
    # Gini = 2 (1*0 + 2*40 + 3*60 + 4*70) / (4 * 170) - 5/4 = 1080/680 - 1.25 = 23/68
    # (= sum |xi - xj| over ordered pairs / (2 n^2 mean) = 460 / 1360).
    tables, summary = result
    measures = {r["measure"]: r["value"] for r in tables["summary"]}
    assert measures["gini"] == pytest.approx(23 / 68)
    assert measures["buyers"] == 4 and measures["revenue"] == pytest.approx(170.0)
    # Top 25% = the highest spender (70); top 50% = 60 + 70.
    assert measures["top_25pct_revenue_share"] == pytest.approx(70 / 170)
    assert measures["top_50pct_revenue_share"] == pytest.approx(130 / 170)
    lorenz = sorted((r["point"], r["buyers"], r["population_share"], r["revenue_share"]) for r in tables["lorenz"])
    want = [(0, 0, 0.0, 0.0), (1, 1, 0.25, 0.0), (2, 2, 0.5, 40 / 170), (3, 3, 0.75, 100 / 170), (4, 4, 1.0, 1.0)]
    assert [row[:2] for row in lorenz] == [row[:2] for row in want]
    assert [row[2:] for row in lorenz] == [pytest.approx(row[2:]) for row in want]
    assert summary[0].startswith("consumption: 4 buyers, revenue 170.00")


def test_summary_medians_and_promotion_hand_worked(result):
    tables, _ = result
    measures = {r["measure"]: r["value"] for r in tables["summary"]}
    # Kept amounts 0, 10, 20, 30, 40, 70: the lower median is 20; u1's gaps are 10 and 40 days.
    assert measures["median_order_value"] == pytest.approx(20.0)
    assert measures["median_repurchase_days"] == pytest.approx(10.0)
    assert measures["orders"] == 6
    assert measures["coupon_order_share"] == pytest.approx(3 / 6)
    assert measures["discount_rate"] == pytest.approx(22 / 192)


def test_rf_grid_vs_plain_python(result):
    tables, _ = result
    spend = defaultdict(float)
    for o in kept():
        spend[o["user_id"]] += o["amount"]
    cells = defaultdict(lambda: [0, 0.0])
    for user, r, f, _, _ in SCORES:
        if r is not None and f is not None:
            cells[(r, f)][0] += 1
            cells[(r, f)][1] += spend[user]
    users, revenue = sum(c[0] for c in cells.values()), sum(c[1] for c in cells.values())
    got = {(r["recency_score"], r["frequency_score"]): r for r in tables["rf"]}
    assert set(got) == set(cells) == {(5, 3), (3, 1), (4, 1)}
    for key, (n, rev) in cells.items():
        _close(
            {k: got[key][k] for k in ("users", "user_share", "revenue", "revenue_share", "revenue_per_user")},
            {"users": n, "user_share": n / users, "revenue": rev, "revenue_share": rev / revenue,
             "revenue_per_user": rev / n},
        )  # fmt: skip


def _by_segment(rows):
    """Plain Python: each kept order under (all, all) and under its buyer's segments."""
    member = defaultdict(list)
    for fam, seg, user in SEGMENTS:
        member[user].append((fam, seg))
    for o in rows:
        for key in [("all", "all"), *member[o["user_id"]]]:
            yield key, o


def test_category_mix_vs_plain_python(result):
    tables, _ = result
    cells = defaultdict(lambda: {"buyers": set(), "orders": 0, "revenue": 0.0})
    totals = defaultdict(lambda: [0, 0.0])
    for key, o in _by_segment(kept()):
        cell = cells[(*key, o["category"] or NO_VALUE)]
        cell["buyers"].add(o["user_id"])
        cell["orders"] += 1
        cell["revenue"] += o["amount"]
        totals[key][0] += 1
        totals[key][1] += o["amount"]
    got = {(r["family"], r["segment"], r["category"]): r for r in tables["category"]}
    assert set(got) == set(cells)
    assert ("all", "all", NO_VALUE) in got and ("retention", "low_risk", "electronics") in got
    for key, cell in cells.items():
        orders, revenue = totals[key[:2]]
        _close(
            {k: got[key][k] for k in ("buyers", "orders", "order_share", "revenue", "revenue_share")},
            {"buyers": len(cell["buyers"]), "orders": cell["orders"], "order_share": cell["orders"] / orders,
             "revenue": cell["revenue"], "revenue_share": cell["revenue"] / revenue if revenue else None},
        )  # fmt: skip


def test_promotion_dependence_vs_plain_python(result):
    tables, _ = result
    per_buyer = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for key, o in _by_segment(kept()):
        b = per_buyer[(*key, o["user_id"])]
        b[0] += 1
        b[1] += int(o["coupon_used"])
        b[2] += o["amount"] + o["discount_amount"]
        b[3] += o["discount_amount"]
    want = {}
    for (fam, seg, _), (n, coupons, gross, disc) in per_buyer.items():
        w = want.setdefault((fam, seg), [0, 0, 0, 0.0, 0.0, 0])
        w[0] += 1
        w[1] += n
        w[2] += coupons
        w[3] += gross
        w[4] += disc
        w[5] += int(coupons / n >= 0.5)
    got = {(r["family"], r["segment"]): r for r in tables["promotion"]}
    assert set(got) == set(want) == {("all", "all"), ("retention", "high_risk"), ("retention", "low_risk")}
    # Hand check: u1's orders are 2/3 coupon orders, u3's single order used one: 2 dependent buyers of 4.
    assert got[("all", "all")]["coupon_dependent_buyers"] == 2
    for key, (buyers, orders, coupons, gross, disc, dependent) in want.items():
        _close(
            {k: v for k, v in got[key].items() if k not in ("as_of_date", "family", "segment")},
            {"buyers": buyers, "orders": orders, "coupon_orders": coupons, "coupon_order_share": coupons / orders,
             "gross_amount": gross, "discount_amount": disc, "discount_rate": disc / gross,
             "coupon_dependent_buyers": dependent, "coupon_dependent_share": dependent / buyers},
        )  # fmt: skip


def test_distributions_vs_numpy(result, config):
    tables, _ = result
    cfg = config.analysis.consumption
    rows = kept()
    amounts = [o["amount"] for o in rows]
    gaps = []
    by_user = defaultdict(list)
    for o in rows:
        by_user[o["user_id"]].append(o["order_ts"])
    for times in by_user.values():
        times.sort()
        gaps += [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False)]
    assert sorted(gaps) == [10.0, 40.0]
    for measure, values, edges in (
        ("order_value", amounts, cfg.order_value_edges),
        ("repurchase_days", gaps, cfg.repurchase_days_edges),
    ):
        counts, _ = np.histogram(values, bins=[*edges, math.inf])
        got = sorted(
            (r["bin"], r["lower"], r["upper"], r["count"], r["share"])
            for r in tables["dist"]
            if r["measure"] == measure
        )
        uppers = [*edges[1:], None]
        want = [(i + 1, edges[i], uppers[i], int(c), c / len(values)) for i, c in enumerate(counts)]
        assert [g[:4] for g in got] == [w[:4] for w in want]
        assert [g[4] for g in got] == pytest.approx([w[4] for w in want])


def test_payment_mix_vs_plain_python(result):
    tables, summary = result
    cells = defaultdict(lambda: [0, 0.0])
    totals = defaultdict(lambda: [0, 0.0])
    for key, o in _by_segment(kept()):
        cells[(*key, o["payment_method"] or NO_VALUE)][0] += 1
        cells[(*key, o["payment_method"] or NO_VALUE)][1] += o["amount"]
        totals[key][0] += 1
        totals[key][1] += o["amount"]
    got = {(r["family"], r["segment"], r["payment_method"]): r for r in tables["payment"]}
    assert set(got) == set(cells)
    assert got[("all", "all", "wallet")]["revenue"] == pytest.approx(90.0)  # o3 20 + o4 70
    for key, (orders, revenue) in cells.items():
        t_orders, t_revenue = totals[key[:2]]
        _close(
            {k: got[key][k] for k in ("orders", "order_share", "revenue", "revenue_share")},
            {"orders": orders, "order_share": orders / t_orders, "revenue": revenue,
             "revenue_share": revenue / t_revenue if t_revenue else None},
        )  # fmt: skip
    assert not any("payment mix skipped" in line for line in summary)


def test_payment_mix_is_skipped_cleanly_when_the_data_has_no_payment_method(spark, config):
    orders = [{**o, "payment_method": None} for o in ORDERS]
    output = consumption.analyse(inputs(spark, config, orders), config)
    assert output.tables["analysis.payment_mix"].count() == 0
    assert "payment mix skipped: no kept order carries payment_method" in output.summary
    # The rest of the analysis is unaffected.
    measures = {r["measure"]: r["value"] for r in output.tables["analysis.consumption_summary"].collect()}
    assert measures["gini"] == pytest.approx(23 / 68)


def test_lorenz_top_shares_and_gini_vs_numpy_with_ties_across_buckets(spark, config):
    rng = np.random.default_rng(7)
    spend = np.concatenate([rng.integers(0, 6, 150).astype(float), rng.gamma(0.6, 300.0, 80).round(2)])
    frame = spark.createDataFrame([(f"u{i}", float(x)) for i, x in enumerate(spend)], "user_id string, spend double")
    cfg = dataclasses.replace(
        config.analysis.consumption, lorenz_points=10, top_shares=(0.01, 0.1, 0.2), rank_buckets=7
    )
    got = spend_concentration(frame, cfg)

    x = np.sort(spend)
    n, total = len(x), x.sum()
    cum = np.concatenate([[0.0], np.cumsum(x)])
    gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())  # mean absolute difference form
    assert got.buyers == n and got.revenue == pytest.approx(total)
    assert got.gini == pytest.approx(gini)
    for point, buyers, population, revenue in got.lorenz:
        want = math.ceil(point * n / 10)
        assert buyers == want and population == pytest.approx(want / n)
        assert revenue == pytest.approx(cum[want] / total)
    for share, value in got.top.items():
        top = math.ceil(share * n)
        assert value == pytest.approx(x[n - top :].sum() / total), share
