"""A tiny scored world for the look-up API: wide-table rows and segment members written through the
catalog in known commits, and the documents the API must return for them, computed here in plain Python."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import types as T

from userscore.catalog import Catalog, declared_schema
from userscore.config import Config

D = dt.date(2026, 11, 1)
SCORED_AT = dt.datetime(2026, 11, 1, 3, 0, 0)
RESTRICTED_TAG = "spend_band"  # marked restricted by the tests' overlay
CONFIG_OVERRIDES = {"tags": {"dictionary": {RESTRICTED_TAG: {"sensitivity": "restricted"}}}}


def _user(user_id: str, churn: float, tier: str, value: float, grade: str, spend: str | None) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "as_of_date": D,
        "r_score": 4,
        "f_score": 2,
        "m_score": 5,
        "rfm_score": 3.7,
        "rfm_segment": "potential_loyalist",
        "preference_score": 0.25,
        "churn_probability": churn,
        "churn_tier": tier,
        "churn_reasons": "recency_days (+0.91), order_count_90d (-0.40)",
        "churn_model_version": "3",
        "repurchase_probability": 0.125,
        "repurchase_tier": "low",
        "repurchase_reasons": "order_count_365d (+0.20)",
        "repurchase_model_version": "5",
        "vip_probability": None,
        "vip_tier": None,
        "vip_reasons": None,
        "vip_model_version": None,
        "p_alive": 0.5,
        "expected_purchases_30d": 0.25,
        "expected_purchases_90d": 0.75,
        "expected_purchases_365d": 2.5,
        "expected_avg_value": 80.0,
        "clv_365d": 190.5,
        "btyd_model_version": "2",
        "value_score": value,
        "grade": grade,
        "value_reasons": "rfm_score (+25.90)",
        "scored_at": SCORED_AT,
        "high_value": value >= 80,
        "churn_risk": tier,
        RESTRICTED_TAG: spend,
    }


V1 = [
    _user("u-1", 0.81, "high", 72.5, "B", "mid"),
    _user("u-2", 0.2, "low", 85.0, "A", "top"),
    _user("u-3", 0.5, "mid", 40.0, "C", None),
]
V2 = [_user("u-2", 0.75, "high", 85.0, "A", "top"), _user("u-4", 0.1, "low", 20.0, "D", "low")]
V4 = [_user("u-1", 0.9, "high", 81.0, "A", "high"), _user("u-4", 0.3, "mid", 20.0, "D", "low")]
V5 = [_user("u-1", 0.95, "high", 90.0, "A", "top")]
MEMBERS = [
    ("retention", "high_risk", "u-1", "exclusive win-back coupon", "private domain", 2, False),
    ("retention", "high_risk", "u-2", "exclusive win-back coupon", "private domain", 2, True),
    ("retention", "low_risk", "u-4", "regular content", "content feed", 4, False),
    ("growth", "repurchase_nudge", "u-1", "nudge", "app push", 2, False),
]


def wide_schema(config: Config) -> T.StructType:
    schema = declared_schema(config.tables[config.scoring.wide_table])
    for tag_id, spec in config.tags.dictionary.items():
        kind = T.BooleanType() if spec.definition.rule is not None else T.StringType()
        schema = schema.add(tag_id, kind)
    return schema


def wide_frame(catalog: Catalog, rows: list[dict[str, Any]]):
    schema = wide_schema(catalog.config)
    return catalog.spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def write_world(catalog: Catalog) -> None:
    """Versions of the wide table: 0 create, 1 insert u-1..u-3, 2 update u-2 + insert u-4, 3 erase u-3."""
    wide = catalog.config.scoring.wide_table
    catalog.ensure(wide, wide_schema(catalog.config))
    catalog.merge(wide, wide_frame(catalog, V1), ignore_changes=("as_of_date", "scored_at"))
    catalog.merge(wide, wide_frame(catalog, V2), ignore_changes=("as_of_date", "scored_at"))
    subjects = catalog.spark.createDataFrame([("u-3",)], "user_id string")
    catalog.delete_matching(wide, subjects, "t.user_id = s.user_id")
    members = catalog.spark.createDataFrame(
        [(D, *m, SCORED_AT) for m in MEMBERS],
        "as_of_date date, family string, segment string, user_id string, strategy string, channel string,"
        " priority int, is_control boolean, scored_at timestamp",
    )
    catalog.overwrite_where(catalog.config.segments.table, members, {"as_of_date": D})


def expected_document(row: dict[str, Any], config: Config, restricted: bool) -> dict[str, Any]:
    """The API's document of a fixture row, written out from the row (not from the serving code)."""
    tags = {t: row.get(t) for t in config.tags.dictionary if t != RESTRICTED_TAG or restricted}
    return {
        "user_id": row["user_id"],
        "as_of_date": "2026-11-01",
        "scored_at": "2026-11-01T03:00:00Z",
        "rfm": {k: row[k] for k in ("r_score", "f_score", "m_score", "rfm_score", "rfm_segment", "preference_score")},
        "scores": {
            target: {
                "probability": row[f"{p}_probability"],
                "tier": row[f"{p}_tier"],
                "reasons": row[f"{p}_reasons"],
                "model_version": row[f"{p}_model_version"],
            }
            for target, p in (("churn_60d", "churn"), ("repurchase_30d", "repurchase"), ("vip_promotion_90d", "vip"))
        },
        "customer_base": {
            "p_alive": 0.5,
            "expected_purchases_30d": 0.25,
            "expected_purchases_90d": 0.75,
            "expected_purchases_365d": 2.5,
            "expected_avg_value": 80.0,
            "clv_365d": 190.5,
            "model_version": "2",
        },
        "value": {"value_score": row["value_score"], "grade": row["grade"], "reasons": row["value_reasons"]},
        "tags": tags,
        "model_versions": {"churn_60d": "3", "repurchase_30d": "5", "vip_promotion_90d": None, "btyd": "2"},
    }
