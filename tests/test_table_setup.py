"""What set-up adds to an existing table and what it reports as a conflict (pure Python, no Spark)."""

from __future__ import annotations

from pyspark.sql import types as T

from tests.conftest import REPO
from userscore.catalog import declared_schema
from userscore.config import load_config
from userscore.table_setup import TableDrift, normalized_expression, table_drift

TABLES = load_config(env="local", conf_dir=REPO / "conf").tables
ORDERS = TABLES["silver.orders"]


STATS = "delta.dataSkippingStatsColumns"
ORDER_STATS = (
    "order_id,order_ts,amount,category,channel,payment_method,discount_amount,item_count,refunded_at,updated_at,"
    "ingest_batch_id"
)


def _props(**constraints: str) -> dict[str, str]:
    return {f"delta.constraints.{k}": v for k, v in constraints.items()}


def test_a_table_created_by_a_killed_run_lacks_only_constraints():
    schema = declared_schema(ORDERS)
    drift = table_drift(ORDERS, schema, schema, _props(non_negative_amount="amount >= 0"), ["order_month"])
    assert drift == TableDrift(
        {
            "refund_time_with_refund": "refunded_at IS NULL OR is_refunded",
            "non_negative_discount": "discount_amount >= 0",
            "positive_items": "item_count >= 1",
        },
        # Statistics on every column but the subject (user_id), the partition and the booleans.
        {STATS: ORDER_STATS},
        (),
    )
    complete = _props(non_negative_amount="amount >= 0", non_negative_discount="discount_amount   >=  0",
                      positive_items="ITEM_COUNT >= 1", refund_time_with_refund="refunded_at is null or IS_REFUNDED",
                      hand_made="amount < 1e9")  # fmt: skip
    drift = table_drift(ORDERS, schema, schema, {**complete, STATS: ORDER_STATS}, ["order_month"])
    assert drift.in_order and drift.undeclared_constraints == ("hand_made",)


def test_every_kind_of_conflict_is_named():
    declared = declared_schema(ORDERS)
    fields = [f for f in declared.fields if f.name != "category"]
    fields = [T.StructField("amount", T.StringType()) if f.name == "amount" else f for f in fields]
    actual = T.StructType([*fields, T.StructField("note", T.StringType())])
    drift = table_drift(ORDERS, declared, actual, _props(non_negative_amount="amount > 0"), [])
    assert drift.conflicts == (
        "column amount is string, declared double",
        "declared column category (string) is missing (the table predates it: move the table away and re-run what "
        "writes it, e.g. re-ingest its batches)",
        "column note is not declared",
        "partitioned by [], declared ['order_month']",
        "constraint non_negative_amount is CHECK (amount > 0), declared CHECK (amount >= 0)",
    )


def test_open_schema_tables_may_have_more_columns_and_properties_are_compared_exactly():
    wide = TABLES["tags.user_tag_wide"]
    declared = declared_schema(wide)
    actual = T.StructType([*declared.fields, T.StructField("new_tag", T.BooleanType())])
    stats = {STATS: "as_of_date,value_score"}  # an older declaration's statistics columns
    missing = table_drift(wide, declared, actual, stats, []).missing_properties
    assert missing.keys() == {"delta.enableChangeDataFeed", STATS} and missing["delta.enableChangeDataFeed"] == "true"
    # Another statistics list is brought up to date; another Change Data Feed setting is a conflict.
    assert "user_id" not in missing[STATS].split(",") and "value_score" in missing[STATS].split(",")
    drift = table_drift(wide, declared, actual, {"delta.enableChangeDataFeed": "false", **stats}, [])
    assert drift.conflicts == ("property delta.enableChangeDataFeed is 'false', declared 'true'",)


def test_expressions_compare_without_case_or_spacing_except_in_literals():
    assert normalized_expression(" Status  IN ('A',  'b  C')") == "status in ('A', 'b  C')"
    assert normalized_expression("x = 'it''s'") == "x = 'it''s'"
