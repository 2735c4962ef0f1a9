"""Rule expressions: the safe subset is accepted and evaluates as written; anything else is rejected."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from userscore.tags import RuleError, validate_rule

COLUMNS = ["churn_probability", "value_score", "recency_days", "top_category", "frequency_90d", "grade"]


@pytest.mark.parametrize(
    ("rule", "referenced"),
    [
        ("churn_probability > 0.7", {"churn_probability"}),
        ("churn_probability > 0.7 AND value_score >= 80", {"churn_probability", "value_score"}),
        ("NOT (recency_days <= 30) OR frequency_90d = 0", {"recency_days", "frequency_90d"}),
        ("top_category IN ('beauty', 'apparel')", {"top_category"}),
        ("grade NOT IN ('C', 'D') AND value_score BETWEEN 40 AND 60", {"grade", "value_score"}),
        ("top_category LIKE 'elec%'", {"top_category"}),
        ("coalesce(frequency_90d, 0) * 2 + -1 > abs(-3.5e0)", {"frequency_90d"}),
        (
            "CASE WHEN recency_days < 30 THEN 'active' WHEN recency_days < 90 THEN 'cooling' ELSE 'dormant' END",
            {"recency_days"},
        ),
        ("Churn_Probability IS NOT NULL", {"churn_probability"}),
        ("round(value_score / 10) % 2 == 1", {"value_score"}),
    ],
)
def test_accepted_rules_report_their_columns(rule, referenced):
    assert validate_rule(rule, COLUMNS) == referenced


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("churn_probabilty > 0.7", "unknown column 'churn_probabilty'"),
        ("value_score > (SELECT max(value_score) FROM scores)", "unknown column 'SELECT'"),
        ("value_score > 1; DROP TABLE silver.users", "unexpected ';"),
        ("value_score > 1 -- comment", "comments (--) are not allowed"),
        ("value_score > 1 /* hidden */", "comments (/*) are not allowed"),
        ("reflect('java.lang.Runtime', 'getRuntime')", "function 'reflect' is not allowed"),
        ("java_method('java.lang.System', 'exit', 0) = 1", "function 'java_method' is not allowed"),
        ("rand() > 0.5", "function 'rand' is not allowed"),
        ("`value_score` > 1", "unexpected '`value_score`"),
        ('"value_score" > 1', 'unexpected \'"value_score"'),
        ("value_score IN (SELECT 1)", "IN (...) takes literals only, found 'SELECT'"),
        ("value_score > 1 value_score", "unexpected 'value_score' after a complete expression"),
        ("", "empty rule"),
        ("value_score > ", "rule ends where a value was expected"),
        ("top_category LIKE grade", "LIKE needs a 'string' pattern"),
        ("value_score NOT > 1", "NOT here must be followed by IN, BETWEEN or LIKE"),
        ("CASE WHEN value_score > 1 THEN 1", "expected 'end', found end of rule"),
        ("value_score > 1 UNION ALL value_score", "unexpected 'UNION' after a complete expression"),
        ("value_score = 'x' AND ${hiveconf:x}", "unexpected '${hiveconf:x}'"),
        ("value_score > 1 AND scores.value_score > 1", "unexpected '.value_score > 1' at character 27"),
    ],
)
def test_hostile_or_broken_rules_are_rejected_with_the_reason(rule, message):
    with pytest.raises(RuleError) as caught:
        validate_rule(rule, COLUMNS)
    assert message in str(caught.value)


def test_validated_rules_evaluate_in_spark_as_written(spark):
    rows = [(0.9, 85.0, 10, "beauty"), (0.2, 85.0, 200, "books"), (0.75, 20.0, 45, "apparel")]
    df = spark.createDataFrame(rows, ["churn_probability", "value_score", "recency_days", "top_category"])
    rules = {
        "vip_at_risk": "churn_probability > 0.7 AND value_score >= 80",
        "lifecycle": "CASE WHEN recency_days < 30 THEN 'active' WHEN recency_days < 90 THEN 'cooling' ELSE 'dormant' END",
        "beauty_or_apparel": "top_category IN ('beauty', 'apparel')",
    }
    for rule in rules.values():
        validate_rule(rule, df.columns)
    got = df.select(*(F.expr(rule).alias(name) for name, rule in rules.items())).collect()
    assert [tuple(r) for r in got] == [
        (True, "active", True),
        (False, "dormant", False),
        (False, "cooling", True),
    ]
