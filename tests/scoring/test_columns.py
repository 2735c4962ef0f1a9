"""Column rules of the scores row on hand-made values: tiers, grades, value score and its reasons, tags,
and segment membership with the control group."""

from __future__ import annotations

import hashlib
from types import MappingProxyType

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from userscore.config.bands import Band
from userscore.config.scoring import ModelComponent, RuleComponent, ValueScoreConfig
from userscore.config.segments import FamilySpec, SegmentsConfig, SegmentSpec
from userscore.config.tags import TagBins, TagDefinition, TagsConfig, TagSpec
from userscore.scoring.audiences import segment_members
from userscore.scoring.tags import with_tags
from userscore.scoring.tiers import band
from userscore.scoring.value import value_components, value_reasons, value_score
from userscore.tags import load_dictionary

# The brief's churn tiers and four grades, written out here (not read from conf/base).
CHURN_TIERS = (Band(name="high", above=0.7), Band(name="mid", min=0.3), Band(name="low"))
GRADES = (Band(name="A", min=80.0), Band(name="B", min=60.0), Band(name="C", min=40.0), Band(name="D"))


def test_churn_tiers_cut_as_the_brief_says(spark):
    # high > 0.70, mid 0.30-0.70 (both ends included), low < 0.30; null stays null.
    values = [0.0, 0.2999, 0.3, 0.5, 0.7, 0.7001, 1.0, None]
    frame = spark.createDataFrame([(v,) for v in values], "p double")
    got = [r[0] for r in frame.select(band(F.col("p"), CHURN_TIERS)).collect()]
    assert got == ["low", "low", "mid", "mid", "mid", "high", "high", None]


def test_grades_cut_at_configured_minimums(spark):
    frame = spark.createDataFrame([(v,) for v in (100.0, 80.0, 79.99, 60.0, 40.0, 39.99, 0.0)], "v double")
    got = [r[0] for r in frame.select(band(F.col("v"), GRADES)).collect()]
    assert got == ["A", "A", "B", "B", "C", "D", "D"]


VALUE = ValueScoreConfig(
    rule_weight=0.6,
    rule=MappingProxyType(
        {
            "rfm_score": RuleComponent(weight=3.0, min=1.0, max=5.0),
            "preference_score": RuleComponent(weight=1.0, min=0.0, max=1.0),
        }
    ),
    model=MappingProxyType(
        {
            "repurchase_30d": ModelComponent(weight=1.0, sign="positive"),
            "churn_60d": ModelComponent(weight=1.0, sign="negative"),
        }
    ),
)


def test_value_score_is_the_weighted_hybrid_and_reasons_are_its_largest_terms(spark):
    rows = [("a", 5.0, 0.5, 0.8, 0.1), ("b", 1.0, 0.0, 0.0, 1.0), ("c", 3.0, 1.2, 0.4, 0.5), ("d", 2.0, 0.6, 0.9, 0.1)]
    rows.append(("e", 1.0, 0.0, 0.0002, 0.7))
    frame = spark.createDataFrame(
        rows, "user_id string, rfm_score double, preference_score double, rp double, cp double"
    )
    components = value_components(VALUE, {"repurchase_30d": "rp", "churn_60d": "cp"})
    out = frame.select(
        "user_id", value_score(components).alias("value_score"), value_reasons(components, 2, 2).alias("reasons")
    )
    # Points: rfm 100 * 0.6 * 3/4 = 45, preference 15, repurchase 100 * 0.4 * 1/2 = 20, low churn 20.
    # a: 45 * 1 + 15 * 0.5 + 20 * 0.8 + 20 * 0.9 = 86.5
    # b: 0 (rfm at its min, p = 0, churn certain)
    # c: 45 * 0.5 + 15 * 1 (1.2 clipped) + 20 * 0.4 + 20 * 0.5 = 55.5
    # d: 45 * 0.25 + 15 * 0.6 + 20 * 0.9 + 20 * 0.9 = 56.25; repurchase and low churn tie at 18: config
    #    order puts repurchase first
    # e: only low churn counts: 20 * 0.3 = 6; repurchase's 20 * 0.0002 = 0.004 points show as +0.00: no reason
    expected = spark.createDataFrame(
        [
            ("a", 86.5, "rfm_score (+45.00); low cp (+18.00)"),
            ("b", 0.0, None),
            ("c", 55.5, "rfm_score (+22.50); preference_score (+15.00)"),
            ("d", 56.25, "rp (+18.00); low cp (+18.00)"),
            ("e", 6.0, "low cp (+6.00)"),
        ],
        "user_id string, value_score double, reasons string",
    )
    assertDataFrameEqual(out, expected)


def test_value_score_without_any_champion_is_the_rule_part_alone(spark):
    frame = spark.createDataFrame([(4.0, 0.2)], "rfm_score double, preference_score double")
    components = value_components(VALUE, {})
    # Rule part takes all 100 points: rfm 75 * (3/4), preference 25 * 0.2.
    assert frame.select(value_score(components)).first()[0] == pytest.approx(56.25 + 5.0)


def _tag(definition: TagDefinition) -> TagSpec:
    return TagSpec(
        name="t", category="value", definition=definition, owner="o", refresh="daily", sensitivity="internal",
        description="d",
    )  # fmt: skip


def test_tags_rules_bins_and_columns(spark):
    tags = TagsConfig(
        dictionary=MappingProxyType(
            {
                "busy": _tag(TagDefinition(rule="logins_30d >= 10 AND churn_tier <> 'high'")),
                "spend": _tag(
                    TagDefinition(
                        column="monetary_365d", bins=TagBins(edges=(0.01, 200.0), labels=("none", "low", "high"))
                    )
                ),
                "risk": _tag(TagDefinition(column="churn_tier")),
            }
        )
    )
    rows = [("a", 12.0, "low", 0.0), ("b", 12.0, "high", 199.99), ("c", None, "mid", 200.0), ("d", 3.0, None, None)]
    frame = spark.createDataFrame(rows, "user_id string, logins_30d double, churn_tier string, monetary_365d double")
    out = with_tags(frame, load_dictionary(tags)).select("user_id", "busy", "spend", "risk")
    expected = spark.createDataFrame(
        [
            ("a", True, "none", "low"),
            ("b", False, "low", "high"),
            ("c", False, "high", "mid"),
            ("d", False, None, None),
        ],
        "user_id string, busy boolean, spend string, risk string",
    )
    assertDataFrameEqual(out, expected)


def _control(salt: str, family: str, user: str) -> float:
    return int(hashlib.md5(f"{salt}|{family}|{user}".encode()).hexdigest()[:8], 16) / 2**32


def test_segments_one_per_family_by_priority_with_hash_control_group(spark):
    segments = SegmentsConfig(
        table="audiences.segment_members",
        excluded_table="audiences.excluded_members",
        control_salt="salt-1",
        families=MappingProxyType(
            {
                "retention": FamilySpec(
                    control_share=0.5,
                    segments=MappingProxyType(
                        {
                            "vip_risk": SegmentSpec(
                                rule="churn_tier = 'high' AND grade = 'A'", strategy="call", channel="phone", priority=1
                            ),
                            "risk": SegmentSpec(
                                rule="churn_tier = 'high'", strategy="coupon", channel="sms", priority=2
                            ),
                        }
                    ),
                ),
                "activation": FamilySpec(
                    control_share=0.0,
                    segments=MappingProxyType(
                        {"recall": SegmentSpec(rule="recall_candidate", strategy="recall", channel="push", priority=1)}
                    ),
                ),
            }
        ),
    )
    import datetime as dt

    day, at = dt.date(2026, 3, 1), dt.datetime(2026, 3, 1)
    users = [f"u{i}" for i in range(40)]
    rows = [
        (u, day, at, "high" if i % 2 else "low", "A" if i % 4 == 1 else "C", i % 3 == 0) for i, u in enumerate(users)
    ]
    scores = spark.createDataFrame(
        rows,
        "user_id string, as_of_date date, scored_at timestamp, churn_tier string, grade string, recall_candidate boolean",
    )
    expected = []
    for i, u in enumerate(users):
        if i % 2:  # high churn: vip_risk when grade A (i % 4 == 1) wins over risk
            seg, strategy, channel, priority = (
                ("vip_risk", "call", "phone", 1) if i % 4 == 1 else ("risk", "coupon", "sms", 2)
            )
            expected.append(
                (day, "retention", seg, u, strategy, channel, priority, _control("salt-1", "retention", u) < 0.5, at)
            )
        if i % 3 == 0:
            expected.append((day, "activation", "recall", u, "recall", "push", 1, False, at))
    schema = (
        "as_of_date date, family string, segment string, user_id string, strategy string, channel string, "
        "priority int, is_control boolean, scored_at timestamp"
    )
    assertDataFrameEqual(segment_members(scores, segments), spark.createDataFrame(expected, schema))
    # The hash split is neither all nor nothing on these 20 retention members.
    assert 0 < sum(e[7] for e in expected if e[1] == "retention") < 20
