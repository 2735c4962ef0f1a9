"""campaigns.recommendations, written by `userscore campaigns --as-of D` from hand-made score rows: every
audience share against plain Python over the same rows, the best share worked out by hand, "contact
nobody" when every audience loses money, and the same rows on a re-run."""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import pytest

from tests.conftest import REPO, TEST_SETS, make_config
from userscore.campaigns.recommend import recommend
from userscore.campaigns.summary import recommendation_line
from userscore.catalog import Catalog, declared_schema
from userscore.cli import main

D, LATER = dt.date(2026, 5, 1), dt.date(2026, 6, 1)
# campaigns.types.coupon_winback.contact_cost in conf/base; the margin per conversion of the (imaginary)
# champion whose scores these are: net margin = 20 x uplift - 0.5, positive above an uplift of 0.025.
COST, MARGIN = 0.5, 20.0
# The 14 users worth contacting (uplift > 0.025) are the top 35% of the 40 scored ones (ceil(0.35 x 40) = 14):
TOP = [0.2, 0.15, 0.1, 0.1, 0.1, 0.08, 0.06, 0.05, 0.05, 0.04, 0.04, 0.035, 0.03, 0.03]
REST = [0.025, 0.02, 0.02, 0.015, 0.01, 0.01, 0.005, 0.0, 0.0, 0.0, -0.005, -0.01, -0.01, -0.02, -0.03, -0.04,
        -0.05, -0.06, -0.08, -0.1, -0.12, -0.15, -0.2, -0.25, -0.3, -0.4]  # fmt: skip
UPLIFT = {f"u{i:02d}": u for i, u in enumerate(TOP + REST)}
# At the later date every contact loses money: the best is to contact nobody.
LOSING = {f"u{i:02d}": u for i, u in enumerate([0.02, 0.01, 0.0, -0.01, -0.1])}


def _score_rows(day: dt.date, uplift: dict[str, float | None], schema) -> list[tuple]:
    rows = []
    for user, u in [*uplift.items(), ("x1", None), ("x2", None)]:  # x1, x2: no uplift, not scored
        values = {
            "user_id": user, "as_of_date": day, "scored_at": dt.datetime.combine(day, dt.time()),
            "coupon_winback_uplift": u, "coupon_winback_net_margin": None if u is None else MARGIN * u - COST,
            "coupon_winback_uplift_model_version": None if u is None else "7", "value_score": 50.0,
        }  # fmt: skip
        rows.append(tuple(values.get(f) for f in schema.fieldNames()))
    return rows


@pytest.fixture(scope="module")
def recommended(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recommendations")
    config = make_config(tmp)
    catalog = Catalog(spark, config)
    for name in ("silver.campaign_sends", "silver.campaign_responses", "silver.orders"):
        catalog.append(name, spark.createDataFrame([], declared_schema(config.tables[name])))
    schema = declared_schema(config.tables["scores.user_scores"])
    rows = _score_rows(dt.date(2026, 3, 1), dict.fromkeys(UPLIFT), schema)  # no champion then: all null
    rows += _score_rows(dt.date(2026, 4, 20), UPLIFT, schema)  # the latest at or before D
    rows += _score_rows(dt.date(2026, 5, 10), LOSING, schema)  # after D: read at LATER only
    catalog.append("scores.user_scores", spark.createDataFrame(rows, schema))
    sets = ["--conf-dir", str(REPO / "conf"), "--set", f"catalog.root={tmp}/warehouse", *TEST_SETS]
    sets += ["--set", f"campaigns.report_dir={tmp}/reports"]

    def run(day: dt.date) -> tuple[int, dict]:
        code = main(["campaigns", "--as-of", day.isoformat(), *sets])
        written = catalog.read("campaigns.recommendations").where(f"as_of_date = '{day}'").collect()
        return code, {(r.campaign_type, r.share): r.asDict() for r in written}

    first, again, later = run(D), run(D), run(LATER)
    table = catalog.read("campaigns.recommendations").collect()
    kept = {(r.as_of_date, r.campaign_type, r.share): r.asDict() for r in table}
    return first, again, later, kept, catalog, tmp


def _expected(uplift: dict[str, float], day: dt.date, scores_date: dt.date) -> list[dict]:
    """Every row of one run, in plain Python: share k/20 contacts the users whose uplift reaches the
    ceil(k n / 20)-th highest."""
    values = sorted(uplift.values(), reverse=True)
    n = len(values)
    rows = []
    for k in range(21):
        cut = values[math.ceil(Fraction(k * n, 20)) - 1] if k else None
        mine = [u for u in values if cut is not None and u >= cut]
        net = sum(MARGIN * u - COST for u in mine)
        rows.append(
            {
                "as_of_date": day, "campaign_type": "coupon_winback", "scores_date": scores_date,
                "model_version": "7", "share": k / 20, "scored_users": n, "users": len(mine),
                "uplift_threshold": cut, "expected_incremental_conversions": pytest.approx(sum(mine)),
                "expected_incremental_margin": pytest.approx(net + COST * len(mine)),
                "contact_cost": pytest.approx(COST * len(mine)), "expected_net_margin": pytest.approx(net),
            }
        )  # fmt: skip
    return rows


def test_every_share_against_plain_python_over_the_latest_scores(recommended):
    (code, rows), *_ = recommended
    assert code == 0
    got = [{k: v for k, v in rows[("coupon_winback", k / 20)].items() if k != "best"} for k in range(21)]
    assert got == _expected(UPLIFT, D, dt.date(2026, 4, 20))
    assert len(rows) == 21
    # Ties at a cut are all in: the 4th highest (share 10% of 40) is 0.1, shared by the 3rd to the 5th.
    assert (rows[("coupon_winback", 0.1)]["users"], rows[("coupon_winback", 0.1)]["uplift_threshold"]) == (5, 0.1)


def test_the_best_share_contacts_exactly_the_users_worth_it(recommended):
    (_, rows), *_ = recommended
    best = [r for r in rows.values() if r["best"]]
    assert len(best) == 1
    # By hand: the 14 users above 0.025, uplifts summing to 1.065: margin 20 x 1.065 = 21.3, cost 14 x 0.5 = 7.
    assert {k: best[0][k] for k in ("share", "users", "uplift_threshold")} == {
        "share": 0.35, "users": 14, "uplift_threshold": 0.03
    }  # fmt: skip
    assert best[0]["expected_incremental_conversions"] == pytest.approx(1.065)
    assert best[0]["expected_incremental_margin"] == pytest.approx(21.3)
    assert best[0]["contact_cost"] == pytest.approx(7.0)
    assert best[0]["expected_net_margin"] == pytest.approx(14.3)
    assert recommendation_line(best[0], list(rows.values())) == (
        "coupon_winback (40 users scored 2026-04-20): contact the top 35% (14 users, uplift >= 0.030): expected "
        "+1.1 incremental conversions, incremental margin 21.30, contact cost 7.00, expected net margin 14.30"
    )


def test_contact_nobody_when_every_audience_loses_money(recommended):
    _, _, (code, rows), *_ = recommended
    assert code == 0
    got = [{k: v for k, v in rows[("coupon_winback", k / 20)].items() if k != "best"} for k in range(21)]
    assert got == _expected(LOSING, LATER, dt.date(2026, 5, 10))
    best = [r for r in rows.values() if r["best"]]
    # By hand: the best single user (0.02) nets 20 x 0.02 - 0.5 = -0.1 < 0, so contacting nobody (0) wins.
    assert [(r["share"], r["users"], r["expected_net_margin"], r["uplift_threshold"]) for r in best] == [
        (0.0, 0, 0.0, None)
    ]
    # Shares 5% to 20% of 5 users are the same one user: the smallest is named.
    assert recommendation_line(best[0], list(rows.values())) == (
        "coupon_winback (5 users scored 2026-05-10): contact nobody: every audience loses money (the least: the "
        "top 5%, 1 user, expected net margin -0.10)"
    )


def test_a_rerun_gives_the_same_rows_and_other_dates_stay(recommended):
    (_, first), (code, again), (_, later), kept, _, tmp = recommended
    assert code == 0 and again == first
    # The run at LATER replaced only its own rows.
    assert kept == {**{(D, *k): v for k, v in first.items()}, **{(LATER, *k): v for k, v in later.items()}}
    report = (tmp / "reports" / f"campaigns-{D}.html").read_text()
    assert "Whom to contact next" in report and "35%" in report


def test_no_recommendation_without_scored_uplift(recommended):
    *_, catalog, _ = recommended
    # At 2026-03-15 the latest scores (03-01) have the columns but no champion scored them.
    outcome = recommend(catalog, catalog.config.campaigns, dt.date(2026, 3, 15))
    assert (list(outcome.rows), list(outcome.notes)) == (
        [],
        ["coupon_winback: no user has a coupon_winback_uplift in the scores of 2026-03-01: no recommendation"],
    )
    before = recommend(catalog, catalog.config.campaigns, dt.date(2026, 2, 1))
    assert list(before.notes) == ["no scores at or before 2026-02-01 in scores.user_scores: no recommendation"]
