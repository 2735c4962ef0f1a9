"""What set-up adds to an existing table and what it reports as a conflict (pure Python, no Spark)."""

from __future__ import annotations

from pyspark.sql import types as T

from tests.conftest import REPO
from userscore.catalog import declared_schema
from userscore.config import load_config
from userscore.table_setup import TableDrift, normalized_expression, table_drift

TABLES = load_config(env="local", conf_dir=REPO / "conf").tables
ORDERS = TABLES["silver.orders"]


def _props(**constraints: str) -> dict[str, str]:
    return {f"delta.constraints.{k}": v for k, v in constraints.items()}


def test_a_table_created_by_a_killed_run_lacks_only_constraints():
    schema = declared_schema(ORDERS)
    drift = table_drift(ORDERS, schema, schema, _props(non_negative_amount="amount >= 0"), ["order_month"])
    assert drift == TableDrift(
        {"non_negative_discount": "discount_amount >= 0", "positive_items": "item_count >= 1"}, {}, ()
    )
    complete = _props(non_negative_amount="amount >= 0", non_negative_discount="discount_amount   >=  0",
                      positive_items="ITEM_COUNT >= 1", hand_made="amount < 1e9")  # fmt: skip
    drift = table_drift(ORDERS, schema, schema, complete, ["order_month"])
    assert drift.in_order and drift.undeclared_constraints == ("hand_made",)


def test_every_kind_of_conflict_is_named():
    declared = declared_schema(ORDERS)
    fields = [f for f in declared.fields if f.name != "category"]
    fields = [T.StructField("amount", T.StringType()) if f.name == "amount" else f for f in fields]
    actual = T.StructType([*fields, T.StructField("note", T.StringType())])
    drift = table_drift(ORDERS, declared, actual, _props(non_negative_amount="amount > 0"), [])
    assert drift.conflicts == (
        "column amount is string, declared double",
        "declared column category (string) is missing",
        "column note is not declared",
        "partitioned by [], declared ['order_month']",
        "constraint non_negative_amount is CHECK (amount > 0), declared CHECK (amount >= 0)",
    )


def test_open_schema_tables_may_have_more_columns_and_properties_are_compared_exactly():
    wide = TABLES["tags.user_tag_wide"]
    declared = declared_schema(wide)
    actual = T.StructType([*declared.fields, T.StructField("new_tag", T.BooleanType())])
    assert table_drift(wide, declared, actual, {}, []).missing_properties == {"delta.enableChangeDataFeed": "true"}
    drift = table_drift(wide, declared, actual, {"delta.enableChangeDataFeed": "false"}, [])
    assert drift.conflicts == ("property delta.enableChangeDataFeed is 'false', declared 'true'",)


def test_expressions_compare_without_case_or_spacing_except_in_literals():
    assert normalized_expression(" Status  IN ('A',  'b  C')") == "status in ('A', 'b  C')"
    assert normalized_expression("x = 'it''s'") == "x = 'it''s'"
