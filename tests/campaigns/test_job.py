"""`userscore campaigns --as-of D` end to end on hand-made silver tables. Every expected figure is worked
out by hand from the rows below (or, for intervals, with numpy/scipy over the per-user values), never by
the code under test."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pytest
from scipy import stats

from tests.conftest import REPO, TEST_SETS, make_config
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main

D = dt.date(2026, 5, 1)
SENT = dt.datetime(2026, 3, 1, 10)


def at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


# winback-a (coupon_winback, 30-day window): treated t1..t6 (cost 0.5 each), control c1..c4, and c5 assigned
# to control but delivered (contaminated: counted as treated). Segments: t1-t3, c1-c2 lapsing; the rest lost.
SENDS_A = [
    ("t1", "treatment", "lapsing"), ("t2", "treatment", "lapsing"), ("t3", "treatment", "lapsing"),
    ("t4", "treatment", "lost"), ("t5", "treatment", "lost"), ("t6", "treatment", "lost"),
    ("c1", "control", "lapsing"), ("c2", "control", "lapsing"), ("c3", "control", "lost"),
    ("c4", "control", "lost"), ("c5", "control", "lost"),
]  # fmt: skip
ORDERS = [
    # (order, user, time, amount, refunded, refunded_at)
    ("o1", "t1", at(3, 5), 50.0, False, None),  # in the window
    ("o2", "t2", at(3, 20), 30.0, False, None),  # in the window, twice
    ("o3", "t2", at(3, 25), 20.0, False, None),
    ("o4", "t3", at(4, 15), 70.0, False, None),  # after the window (ends 03-31 10:00)
    ("o5", "t4", at(3, 2), 80.0, True, at(3, 10)),  # refunded before D: not a conversion
    ("o6", "t5", at(2, 27), 60.0, False, None),  # before the send
    ("o7", "c1", at(3, 10), 40.0, False, None),
    ("o8", "c5", at(3, 3), 25.0, False, None),  # the contaminated control user, counted as treated
    ("o9", "c2", dt.datetime(2026, 3, 1, 9), 10.0, False, None),  # an hour before the send
]
# The repurchase score of winback-a's users at 2026-02-15 (all distinct).
SCORE = {u: 0.05 * (i + 1) for i, (u, _, _) in enumerate(SENDS_A)}
RESPONSES = [
    ("r1", "s-a-t1", "winback-a", "t1", "delivered", at(3, 1, 11)),
    ("r2", "s-a-t1", "winback-a", "t1", "clicked", at(3, 1, 13)),
    ("r3", "s-a-t2", "winback-a", "t2", "redeemed", at(3, 20)),
    ("r4", "s-a-t3", "winback-a", "t3", "opened", at(3, 2)),
    ("r5", "s-a-c5", "winback-a", "c5", "delivered", at(3, 1, 11)),
]


def _send(campaign: str, user: str, arm: str, segment: str, sent: dt.datetime, channel: str = "sms"):
    return (f"s-{campaign.split('-')[1]}-{user}", campaign, user, "retention", segment, arm, channel, 5.0, 0.5,
            sent, dt.date(sent.year, sent.month, 1), "b1")  # fmt: skip


@pytest.fixture(scope="module")
def measured(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("campaigns")
    config = make_config(tmp)
    catalog = Catalog(spark, config)
    sends = [_send("winback-a", u, arm, seg, SENT) for u, arm, seg in SENDS_A]
    # winback-b: no control group; promo-x: no campaign type; winback-c: 2 of 3 control users contacted.
    sends += [_send("winback-b", u, "treatment", "lost", at(3, 15)) for u in ("t1", "t2", "x1")]
    sends += [_send("promo-x", u, arm, "lost", at(3, 20)) for u, arm in (("t1", "treatment"), ("c1", "control"))]
    sends += [_send("winback-c", u, "control", "lost", at(4, 1)) for u in ("c1", "c2", "c3")]
    sends += [_send("winback-c", "c1", "treatment", "lost", at(4, 1))] + [
        # a campaign from before the lookback: not measured
        _send("winback-old", "t1", "treatment", "lost", dt.datetime(2025, 3, 1))
    ]
    responses = RESPONSES + [("r6", "s-c-c2", "winback-c", "c2", "delivered", at(4, 1, 11))]
    schema = lambda name: declared_schema(config.tables[name])  # noqa: E731
    catalog.append("silver.campaign_sends", spark.createDataFrame(sends, schema("silver.campaign_sends")))
    catalog.append(
        "silver.campaign_responses",
        spark.createDataFrame([(*r, "b1") for r in responses], schema("silver.campaign_responses")),
    )
    orders = [
        (o, u, t, dt.date(t.year, t.month, 1), amount, "home", "app", None, False, 0.0, refunded, 1, r_at,
         r_at or t, "b1")
        for o, u, t, amount, refunded, r_at in ORDERS
    ]  # fmt: skip
    catalog.append("silver.orders", spark.createDataFrame(orders, schema("silver.orders")))
    scores_schema = schema("scores.user_scores")
    scored = [
        # The latest scored date at or before the send (02-15) is read; 03-15 (after it) is not.
        {"user_id": u, "as_of_date": day, "scored_at": dt.datetime.combine(day, dt.time()),
         "churn_tier": tier, "repurchase_probability": SCORE[u], "value_score": 50.0}
        for day in (dt.date(2026, 2, 15), dt.date(2026, 3, 15))
        for u, _, segment in SENDS_A
        for tier in [("high" if segment == "lapsing" else "low") if day.month == 2 else "mid"]
    ]  # fmt: skip
    frame = [tuple(r.get(f) for f in scores_schema.fieldNames()) for r in scored]
    catalog.append("scores.user_scores", spark.createDataFrame(frame, scores_schema))
    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp}/warehouse", *TEST_SETS]
    sets += ["--set", "campaigns.min_group_size=2", "--set", "campaigns.max_contamination_share=0.25"]
    sets += ["--set", "campaigns.bootstrap.buckets=20", "--set", f"campaigns.report_dir={tmp}/reports"]
    code = main(["campaigns", "--as-of", D.isoformat(), *sets])
    rows = catalog.read("campaigns.lift").where(f"as_of_date = '{D}'").collect()
    first = {(r.campaign_id, r.breakdown, r.cell): r.asDict() for r in rows}
    # A re-run of D gives the same rows.
    code_again = main(["campaigns", "--as-of", D.isoformat(), *sets])
    again = catalog.read("campaigns.lift").where(f"as_of_date = '{D}'").collect()
    return code, code_again, first, {(r.campaign_id, r.breakdown, r.cell): r.asDict() for r in again}, tmp


def test_counts_rates_and_money_of_a_campaign(measured):
    code, _, rows, _, _ = measured
    assert code == 0
    a = rows[("winback-a", "all", "all")]
    # treated: t1..t6 + c5 (contaminated); control c1..c4. Converted: t1, t2, c5 | c1 (o9 is before the send).
    expected = {
        "campaign_date": dt.date(2026, 3, 1), "campaign_type": "coupon_winback", "window_days": 30,
        "window_complete": True, "treated_users": 7, "control_users": 4, "contaminated_control_users": 1,
        "treated_responders": 2, "treated_conversions": 3, "control_conversions": 1,
        "revenue_per_user_treated": pytest.approx(125.0 / 7), "revenue_per_user_control": pytest.approx(10.0),
        "cost": pytest.approx(3.0), "min_sample": False, "readable": True, "unreadable_reason": None,
    }  # fmt: skip
    assert {k: a[k] for k in expected} == expected
    assert a["response_rate"] == pytest.approx(2 / 7)
    assert a["abs_lift"] == pytest.approx(3 / 7 - 1 / 4)
    assert a["incremental_conversions"] == pytest.approx((3 / 7 - 1 / 4) * 7)
    assert a["incremental_revenue"] == pytest.approx((125 / 7 - 10) * 7)
    assert a["incremental_margin"] == pytest.approx((125 / 7 - 10) * 7 * 0.35)
    assert a["roi"] == pytest.approx(((125 / 7 - 10) * 7 * 0.35 - 3.0) / 3.0)


def test_intervals_against_numpy_over_the_users(measured):
    _, _, rows, _, _ = measured
    a = rows[("winback-a", "all", "all")]
    treated = np.array([50.0, 50.0, 0, 0, 0, 0, 25.0])  # t1, t2 (30 + 20), t3..t6, c5
    control = np.array([40.0, 0, 0, 0])
    y_t, y_c = (treated > 0).astype(float), (control > 0).astype(float)
    z = stats.norm.ppf(0.975)
    d = y_t.mean() - y_c.mean()
    se = math.sqrt(y_t.var() / len(y_t) + y_c.var() / len(y_c))  # unpooled, population variance per arm
    assert (a["abs_lift_low"], a["abs_lift_high"]) == (pytest.approx(d - z * se), pytest.approx(d + z * se))
    p_t, p_c = y_t.mean(), y_c.mean()
    se_log = math.sqrt(1 / 3 - 1 / 7 + 1 / 1 - 1 / 4)  # Katz: 1/x_t - 1/n_t + 1/x_c - 1/n_c
    ratio = p_t / p_c
    assert a["rel_lift"] == pytest.approx(ratio - 1)
    assert a["rel_lift_low"] == pytest.approx(ratio * math.exp(-z * se_log) - 1)
    assert a["rel_lift_high"] == pytest.approx(ratio * math.exp(z * se_log) - 1)
    welch = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(0.95)
    assert (a["revenue_lift_low"], a["revenue_lift_high"]) == (pytest.approx(welch.low), pytest.approx(welch.high))


def test_bootstrap_equals_a_numpy_bootstrap_of_the_same_buckets(measured):
    _, _, rows, _, _ = measured
    a = rows[("winback-a", "all", "all")]
    cents = {"t1": 5000, "t2": 5000, "t3": 0, "t4": 0, "t5": 0, "t6": 0, "c5": 2500, "c1": 4000, "c2": 0,
             "c3": 0, "c4": 0}  # fmt: skip

    def bucket(user: str) -> int:
        text = f"userscore-campaign-bootstrap|winback-a|{user}"
        return int(int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 2**32 * 20)

    def sums(users):
        s, n = np.zeros(20, dtype=np.int64), np.zeros(20, dtype=np.int64)
        for u in users:
            s[bucket(u)] += cents[u]
            n[bucket(u)] += 1
        return s, n

    (s_t, n_t), (s_c, n_c) = sums(["t1", "t2", "t3", "t4", "t5", "t6", "c5"]), sums(["c1", "c2", "c3", "c4"])
    rng = np.random.Generator(np.random.PCG64(20261206))
    w_t, w_c = rng.poisson(1.0, (1000, 20)), rng.poisson(1.0, (1000, 20))
    diffs = []
    for r in range(1000):
        u_t, u_c = (w_t[r] * n_t).sum(), (w_c[r] * n_c).sum()
        if u_t and u_c:
            diffs.append((w_t[r] * s_t).sum() / u_t - (w_c[r] * s_c).sum() / u_c)
    low, high = np.quantile(diffs, [0.025, 0.975]) / 100
    assert (a["revenue_lift_boot_low"], a["revenue_lift_boot_high"]) == (pytest.approx(low), pytest.approx(high))


def test_breakdown_cells(measured):
    _, _, rows, _, _ = measured
    lapsing = rows[("winback-a", "segment", "family=retention, segment=lapsing")]
    lost = rows[("winback-a", "segment", "family=retention, segment=lost")]
    # lapsing: treated t1..t3 (t1, t2 convert), control c1, c2 (c1 converts); lost: t4..t6 + c5 | c3, c4.
    assert (lapsing["treated_users"], lapsing["control_users"], lapsing["treated_conversions"]) == (3, 2, 2)
    assert lapsing["control_conversions"] == 1 and lapsing["abs_lift"] == pytest.approx(2 / 3 - 1 / 2)
    assert (lost["treated_users"], lost["control_users"], lost["treated_conversions"]) == (4, 2, 1)
    assert lost["abs_lift"] == pytest.approx(1 / 4) and lost["contaminated_control_users"] == 1
    assert rows[("winback-a", "channel", "channel=sms")]["treated_users"] == 7
    # The tiers of 02-15 (lapsing users high): the same users as the lapsing segment.
    high = rows[("winback-a", "churn_tier", "churn_tier=high")]
    assert (high["treated_users"], high["control_users"], high["treated_conversions"]) == (3, 2, 2)
    assert not any(k[0] == "winback-a" and k[2] == "churn_tier=mid" for k in rows)
    # winback-b (03-15) reads the scores of 03-15; x1 has none: unknown.
    assert rows[("winback-b", "churn_tier", "churn_tier=mid")]["treated_users"] == 2
    assert rows[("winback-b", "churn_tier", "churn_tier=unknown")]["treated_users"] == 1


def test_deciles_of_the_score_at_the_send(measured):
    _, _, rows, _, _ = measured
    users = [u for u, _, _ in SENDS_A]
    scores = np.array([SCORE[u] for u in users])
    # A cut at each tenth: the smallest score with at least that share of users at or below it.
    cuts = np.quantile(scores, [i / 10 for i in range(1, 10)], method="inverted_cdf")
    decile = {u: 10 - int((SCORE[u] > cuts).sum()) for u in users}
    treated = {"t1", "t2", "t3", "t4", "t5", "t6", "c5"}
    for d in sorted(set(decile.values())):
        cell = rows[("winback-a", "repurchase_decile", f"repurchase_probability_decile={d}")]
        members = [u for u in users if decile[u] == d]
        assert (cell["treated_users"], cell["control_users"]) == (
            sum(u in treated for u in members),
            sum(u not in treated for u in members),
        ), d
    assert sum(1 for k in rows if k[0] == "winback-a" and k[1] == "repurchase_decile") == len(set(decile.values()))


def test_unreadable_campaigns_say_why_and_report_no_lift(measured):
    _, _, rows, _, _ = measured
    reasons = {c: rows[(c, "all", "all")]["unreadable_reason"] for c in ("winback-b", "promo-x", "winback-c")}
    assert reasons == {
        "winback-b": "empty control group",
        "promo-x": "no campaign type matches its id (campaigns.types)",
        # c1 has sends in both arms and c2 a delivery: 2 of 3 control users were contacted.
        "winback-c": "contaminated control: 2 of 3 control users were contacted (above 25.0%)",
    }
    for c in reasons:
        r = rows[(c, "all", "all")]
        assert (r["readable"], r["abs_lift"], r["revenue_lift"], r["roi"]) == (False, None, None, None)
    assert rows[("winback-c", "all", "all")]["window_complete"] is False  # sent 04-01, window to 05-01 10:00
    assert not any(k[0] == "winback-old" for k in rows)


def test_rerun_gives_the_same_rows_and_a_report(measured):
    _, code_again, rows, again, tmp = measured
    assert code_again == 0 and again == rows
    report = (tmp / "reports" / f"campaigns-{D}.html").read_text()
    assert "winback-a" in report and "unreadable: empty control group" in report


def test_ranking_by_a_score_equals_sklift_over_the_campaigns_users(measured, spark):
    from sklift.metrics import qini_auc_score, uplift_auc_score

    _, _, _, _, tmp = measured
    rankings = Catalog(spark, make_config(tmp)).read("campaigns.ranking").where(f"as_of_date = '{D}'").collect()
    # Only the readable campaign, ranked by its one numeric score column.
    assert [(r.campaign_id, r.score, r.scored_users) for r in rankings] == [("winback-a", "repurchase_probability", 11)]
    users = [u for u, _, _ in SENDS_A]
    treated = {"t1", "t2", "t3", "t4", "t5", "t6", "c5"}
    converted = {"t1", "t2", "c5", "c1"}
    y = [int(u in converted) for u in users]
    t = [int(u in treated) for u in users]
    score = [SCORE[u] for u in users]
    r = rankings[0]
    assert r.qini_coefficient == pytest.approx(qini_auc_score(y, score, t))
    assert r.uplift_auc == pytest.approx(uplift_auc_score(y, score, t))
    # The top int(11 * 0.3) = 3 by score are c5, c4, c3: treated c5 converted, controls c3, c4 did not.
    assert r.uplift_at_k == pytest.approx(1.0 - 0.0)
