"""The uplift tier and net margin rules (scoring.uplift_columns) on hand-worked rows."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from userscore.config.campaigns import UpliftTiers
from userscore.scoring.uplift_columns import net_margin, uplift_tier

TIERS = UpliftTiers(persuadable_above=0.02, sleeping_dog_below=-0.02, sure_thing_min=0.5)


def test_the_scored_type_carries_its_campaign_types_tiers_and_contact_cost(tmp_path):
    output = make_config(tmp_path).scoring.uplift["coupon_winback"]
    assert (output.tiers, output.contact_cost) == (TIERS, 0.5)  # conf/base/campaigns.yaml


def test_tiers_and_net_margin_worked_by_hand(spark):
    # (user, uplift, p_control) -> tier; net margin = uplift x 12.5 - 0.5.
    rows = [
        ("a", 0.05, 0.1, "persuadable", 0.125),
        ("b", 0.3, 0.9, "persuadable", 3.25),  # buys anyway, but the contact adds 30 points: persuadable first
        ("c", 0.02, 0.7, "sure_thing", -0.25),  # 0.02 is not above 0.02
        ("d", 0.02, 0.2, "lost_cause", -0.25),
        ("e", -0.02, 0.5, "sure_thing", -0.75),  # -0.02 is not below -0.02; 0.5 reaches sure_thing_min
        ("f", 0.0, 0.4999, "lost_cause", -0.5),
        ("g", -0.03, 0.9, "sleeping_dog", -0.875),  # would buy anyway, but the contact puts them off
        ("h", None, 0.4, None, None),
    ]
    frame = spark.createDataFrame([r[:3] for r in rows], "user_id string, uplift double, p_control double").select(
        "user_id",
        uplift_tier(F.col("uplift"), F.col("p_control"), TIERS).alias("tier"),
        net_margin(F.col("uplift"), 12.5, 0.5).alias("net_margin"),
    )
    expected = spark.createDataFrame(
        [(r[0], r[3], r[4]) for r in rows], "user_id string, tier string, net_margin double"
    )
    assertDataFrameEqual(frame, expected, rtol=0, atol=1e-12)


def test_the_summary_lists_uplift_tiers_and_each_examples_uplift(tmp_path):
    import datetime as dt

    from userscore.scoring.models import Champions, UpliftChampion
    from userscore.scoring.pipeline import ScoreOutcome, summary_lines
    from userscore.tags import load_dictionary

    config = make_config(tmp_path)
    dictionary = load_dictionary(config.tags)
    output = config.scoring.uplift["coupon_winback"]
    at = dt.datetime(2026, 3, 1)
    champion = UpliftChampion(
        "coupon_winback", output, "userscore-coupon_winback_uplift", "3", at, None, None, "f", 12.5
    )
    outcome = ScoreOutcome(dt.date(2026, 3, 1), at, 4, Champions((), (), (champion,)), None, [])
    outcome.distribution = {
        "coupon_winback_uplift_tier": [("persuadable", 1), ("sure_thing", 2), ("lost_cause", 0), ("sleeping_dog", 1)]
    }
    example = {"user_id": "u1", "grade": "B", "value_score": 61.5, "value_reasons": "rfm_score (+30.00)"}
    example |= {o.column(s): None for o in config.scoring.targets.values() for s in ("probability", "tier", "reasons")}
    example |= {t.id: None for t in dictionary}
    example |= {
        "coupon_winback_uplift": 0.0412,
        "coupon_winback_uplift_tier": "persuadable",
        "coupon_winback_net_margin": 0.25,
        "coupon_winback_uplift_reasons": "promotion_sensitivity (+0.91)",
    }
    outcome.examples = [example]
    lines = summary_lines(outcome, config.scoring, dictionary)
    assert "champions: userscore-coupon_winback_uplift v3" in lines
    assert (
        "coupon_winback_uplift_tier: persuadable 1 (25.0%)  sure_thing 2 (50.0%)  lost_cause 0 (0.0%)  "
        "sleeping_dog 1 (25.0%)"
    ) in lines
    assert "    coupon_winback: uplift +0.041 persuadable, net margin +0.25 <- promotion_sensitivity (+0.91)" in lines


def test_users_outside_the_eligibility_rule_get_null_uplift_columns(spark, tmp_path):
    import datetime as dt

    from userscore.scoring.fuse import uplift_columns
    from userscore.scoring.models import UpliftChampion

    # conf/base: eligible = frequency_365d > 0 AND recency_days BETWEEN 30 AND 365.
    output = make_config(tmp_path).scoring.uplift["coupon_winback"]
    champion = UpliftChampion("coupon_winback", output, "m", "4", dt.datetime(2026, 3, 1), None, None, "f", 12.5)
    # (user, frequency_365d, recency_days, uplift, p_control) -> uplift, tier, net margin kept or nulled.
    rows = [
        ("a", 2.0, 30.0, 0.05, 0.1, True),  # both bounds are inside
        ("b", 1.0, 365.0, -0.03, 0.9, True),
        ("c", 3.0, 29.0, 0.05, 0.1, False),  # bought too recently to be lapsing
        ("d", 1.0, 366.0, 0.05, 0.1, False),  # lapsed too long ago
        ("e", 0.0, 120.0, 0.05, 0.1, False),  # never bought in the year (recency is then tenure + 1)
        ("f", None, 120.0, 0.05, 0.1, False),  # a null in the rule is not eligible
    ]
    frame = spark.createDataFrame(
        [(u, f, r, up, pc, "because (+0.1)") for u, f, r, up, pc, _ in rows],
        "user_id string, frequency_365d double, recency_days double, coupon_winback_uplift double, "
        "_coupon_winback_p_control double, coupon_winback_uplift_reasons string",
    )
    got = frame.withColumns(uplift_columns([champion], {"coupon_winback": output})).select(
        "user_id", "coupon_winback_uplift", "coupon_winback_uplift_tier", "coupon_winback_net_margin",
        "coupon_winback_uplift_reasons", "coupon_winback_uplift_model_version",
    )  # fmt: skip
    expected = [
        ("a", 0.05, "persuadable", 0.05 * 12.5 - 0.5, "because (+0.1)", "4"),
        ("b", -0.03, "sleeping_dog", -0.03 * 12.5 - 0.5, "because (+0.1)", "4"),
        *((u, None, None, None, None, "4") for u, *_, eligible in rows if not eligible),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema), rtol=0, atol=1e-12)
