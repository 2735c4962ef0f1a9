"""Ranked segments (rank_by + top_share): the cut of each against plain Python over the same rows, ties at
the cut kept, members by priority with the same hash control group; and the config checks at load."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from fractions import Fraction
from types import MappingProxyType

import pytest
from pyspark.testing import assertDataFrameEqual

from tests.conftest import make_config
from userscore.config.segments import FamilySpec, SegmentsConfig, SegmentSpec
from userscore.errors import ConfigError
from userscore.scoring.audiences import rank_cuts, segment_members

DAY, AT = dt.date(2026, 3, 1), dt.datetime(2026, 3, 1)

# (user, uplift tier, uplift, grade, value_score). Net margin = 20 x uplift - 0.5 (positive above 0.025).
# 17 persuadables: ceil(0.3 x 17) = 6, the 6th highest uplift is 0.09, shared by p06 and p07: both kept.
ROWS = [
    ("p01", "persuadable", 0.30, "A", 91.0), ("p02", "persuadable", 0.25, "C", 50.0),
    ("p03", "persuadable", 0.20, "B", 70.0), ("p04", "persuadable", 0.12, "A", 85.0),
    ("p05", "persuadable", 0.10, "D", 10.0), ("p06", "persuadable", 0.09, "B", 65.0),
    ("p07", "persuadable", 0.09, "A", None), ("p08", "persuadable", 0.08, "C", 45.0),
    ("p09", "persuadable", 0.06, "B", 66.0), ("p10", "persuadable", 0.05, "A", 88.0),
    ("p11", "persuadable", 0.04, "C", 41.0), ("p12", "persuadable", 0.035, "B", 62.0),
    ("p13", "persuadable", 0.03, "A", 80.0), ("p14", "persuadable", 0.028, "D", 5.0),
    ("p15", "persuadable", 0.025, "B", 61.0), ("p16", "persuadable", 0.022, "A", 95.0),
    ("p17", "persuadable", 0.021, "C", 42.0),
    ("s01", "sure_thing", 0.01, "A", 99.0), ("s02", "sure_thing", 0.0, "B", 60.5),
    ("l01", "lost_cause", -0.01, "C", 99.5),  # grade C: outside the value family's rule, however high
    ("d01", "sleeping_dog", -0.05, "A", 90.0), ("d02", "sleeping_dog", -0.30, "B", 75.0),
    ("n01", None, None, "A", 83.0), ("n02", None, None, None, None),
]  # fmt: skip
FAMILIES = {
    "winback": FamilySpec(
        control_share=0.5,
        segments=MappingProxyType(
            {
                "top": SegmentSpec(
                    rule="uplift_tier = 'persuadable'",
                    rank_by="uplift",
                    top_share=0.3,
                    strategy="coupon",
                    channel="sms",
                    priority=1,
                ),
                "paying": SegmentSpec(
                    rule="uplift_tier <> 'sleeping_dog' AND net_margin > 0",
                    strategy="coupon",
                    channel="email",
                    priority=2,
                ),
            }
        ),
    ),  # fmt: skip
    "value": FamilySpec(
        control_share=0.0,
        segments=MappingProxyType(
            {
                "best_ab": SegmentSpec(
                    rule="grade IN ('A', 'B')",
                    rank_by="value_score",
                    top_share=0.25,
                    strategy="vip",
                    channel="phone",
                    priority=1,
                ),
                "other_ab": SegmentSpec(rule="grade IN ('A', 'B')", strategy="news", channel="email", priority=2),
            }
        ),
    ),  # fmt: skip
}
SEGMENTS = SegmentsConfig(
    table="audiences.segment_members",
    excluded_table="audiences.excluded_members",
    control_salt="salt-2",
    families=MappingProxyType(FAMILIES),
)


def _cut(values: list[float], share: float) -> float:
    """The ceil(share x n)-th highest of ``values`` (exact fractions)."""
    ranked = sorted(values, reverse=True)
    return ranked[math.ceil(Fraction(str(share)) * len(ranked)) - 1]


def _control(family: str, user: str) -> bool:
    return int(hashlib.md5(f"salt-2|{family}|{user}".encode()).hexdigest()[:8], 16) / 2**32 < (
        0.5 if family == "winback" else 0.0
    )


@pytest.fixture(scope="module")
def scores(spark):
    rows = [
        (u, DAY, AT, tier, uplift, None if uplift is None else 20 * uplift - 0.5, grade, value)
        for u, tier, uplift, grade, value in ROWS
    ]
    schema = (
        "user_id string, as_of_date date, scored_at timestamp, uplift_tier string, uplift double, "
        "net_margin double, grade string, value_score double"
    )
    return spark.createDataFrame(rows, schema)


def test_one_aggregation_cuts_every_ranked_segment_at_its_share(scores):
    persuadable = [u for _, t, u, _, _ in ROWS if t == "persuadable"]
    ab_values = [v for *_, g, v in ROWS if g in ("A", "B") and v is not None]
    assert rank_cuts(scores, SEGMENTS) == {
        ("winback", "top"): pytest.approx(_cut(persuadable, 0.3)),
        ("value", "best_ab"): pytest.approx(_cut(ab_values, 0.25)),
    }
    # By hand: the 6th of 17 persuadables is 0.09; the 4th of the 15 graded A or B with a value is 90.
    assert (_cut(persuadable, 0.3), _cut(ab_values, 0.25)) == (0.09, 90.0)


def test_members_keep_the_top_share_with_ties_then_the_next_segment(spark, scores):
    persuadable_cut, value_cut = 0.09, 90.0
    expected = []
    for user, tier, uplift, grade, value in ROWS:
        if tier == "persuadable" and uplift >= persuadable_cut:
            expected.append(("winback", "top", user, "coupon", "sms", 1))
        elif tier is not None and tier != "sleeping_dog" and 20 * uplift - 0.5 > 0:
            expected.append(("winback", "paying", user, "coupon", "email", 2))
        if grade in ("A", "B") and value is not None and value >= value_cut:
            expected.append(("value", "best_ab", user, "vip", "phone", 1))
        elif grade in ("A", "B"):
            expected.append(("value", "other_ab", user, "news", "email", 2))
    rows = [(DAY, f, s, u, st, ch, p, _control(f, u), AT) for f, s, u, st, ch, p in expected]
    schema = (
        "as_of_date date, family string, segment string, user_id string, strategy string, channel string, "
        "priority int, is_control boolean, scored_at timestamp"
    )
    assertDataFrameEqual(segment_members(scores, SEGMENTS), spark.createDataFrame(rows, schema))
    # By hand: the tie at the cut keeps 7 of 17 persuadables; p08..p14 pay for their contact (> 0.025), p15
    # (exactly 0.025) and p16, p17 do not.
    top = [e[2] for e in expected if e[1] == "top"]
    assert top == ["p01", "p02", "p03", "p04", "p05", "p06", "p07"]
    assert [e[2] for e in expected if e[1] == "paying"] == ["p08", "p09", "p10", "p11", "p12", "p13", "p14"]
    # The 4th highest value of the 15 graded A or B (ceil 3.75) is d01's 90; l01's 99.5 is grade C.
    assert [e[2] for e in expected if e[1] == "best_ab"] == ["p01", "p16", "s01", "d01"]


def test_a_ranked_segment_nobody_matches_is_empty(spark, scores):
    family = FamilySpec(
        control_share=0.0,
        segments=MappingProxyType(
            {
                "none": SegmentSpec(
                    rule="grade = 'Z'", rank_by="uplift", top_share=0.5, strategy="s", channel="c", priority=1
                )
            }
        ),
    )
    segments = SegmentsConfig(
        table="audiences.segment_members", excluded_table="audiences.excluded_members", control_salt="s",
        families=MappingProxyType({"empty": family}),
    )  # fmt: skip
    assert rank_cuts(scores, segments) == {("empty", "none"): None}
    assert segment_members(scores, segments).count() == 0


def _segment(**extra) -> dict:
    return {"priority": 9, "rule": "high_value", "strategy": "s", "channel": "c", **extra}


def test_the_base_family_ranks_persuadables_by_uplift(tmp_path):
    family = make_config(tmp_path).segments.families["winback_uplift"]
    top = family.segments["top_persuadables"]
    assert (top.rank_by, top.top_share, top.rule) == (
        "coupon_winback_uplift",
        0.3,
        "coupon_winback_uplift_tier = 'persuadable'",
    )
    assert [s for s, _ in family.ordered()] == ["top_persuadables", "positive_net_margin"]


@pytest.mark.parametrize(
    ("extra", "key", "found"),
    [
        ({"rank_by": "churn_tier", "top_share": 0.3}, "rank_by", "ranks by 'churn_tier', a non-numeric column"),
        ({"rank_by": "logins_30d", "top_share": 0.3}, "rank_by", "ranks by 'logins_30d', an unknown column"),
        ({"rank_by": "value_score"}, "", "rank_by and top_share: both or neither"),
        ({"rank_by": "value_score", "top_share": 0.0}, "top_share", "found 0.0 (float); expected a number in (0, 1]"),
        ({"rank_by": "value_score", "top_share": 1.5}, "top_share", "found 1.5 (float); expected a number in (0, 1]"),
    ],
)
def test_bad_rankings_fail_at_load_naming_the_segment(tmp_path, extra, key, found):
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, {"segments": {"families": {"retention": {"segments": {"ranked": _segment(**extra)}}}}})
    at = "segments.families.retention.segments.ranked"
    assert caught.value.key_path == (f"{at}.{key}" if key else at)
    assert found in str(caught.value)


def test_rank_by_a_numeric_score_column_loads(tmp_path):
    extra = {"rank_by": "repurchase_probability", "top_share": 1.0}
    config = make_config(
        tmp_path, {"segments": {"families": {"retention": {"segments": {"ranked": _segment(**extra)}}}}}
    )
    spec = config.segments.families["retention"].segments["ranked"]
    assert (spec.rank_by, spec.top_share, spec.ranked) == ("repurchase_probability", 1.0, True)
