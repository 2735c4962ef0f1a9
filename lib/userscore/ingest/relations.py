"""One record per relation: a repeated follow under a new id is quarantined as ``duplicate_relation``.

A source's ``unique_by`` rule names a natural key (e.g. src_user_id, dst_user_id, edge_type) and the
records it covers (``when``: follows and invites, not shares, which are events). It runs after the key
outcomes (dedupe.py), on the accepted records it covers whose key columns are all set:
- within the batch, the earliest by the source's event_time (then landing order) is kept and every other
  one is quarantined, its detail naming the kept record's table key;
- a record whose natural key is already in silver from another batch is quarantined too (first seen wins,
  as for table keys), its detail naming that batch and row. Rows of this same batch are ignored, so a
  re-ingest gives the same outcome.
Only records of one natural key meet in the window (no hub user lands in one task), and silver is reduced
to one row per natural key before the join, so no record is multiplied.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from userscore.config.ingest import BATCH_COLUMN, UniqueRule
from userscore.ingest.dedupe import ACCEPTED, QUARANTINED, STATUS
from userscore.ingest.parse import ARRIVAL
from userscore.ingest.rules import PROBLEMS, problem


def _covered(rule: UniqueRule) -> Column:
    """Records the rule applies to: matching ``when`` and with every natural-key column set."""
    condition = F.lit(True)
    for column, values in rule.when.items():
        condition = condition & F.col(f"`{column}`").isin(*values)
    for column in rule.columns:
        condition = condition & F.col(f"`{column}`").isNotNull()
    return condition


def _key_text(key: Sequence[str]) -> Column:
    return F.concat_ws(", ", *[F.col(f"`{k}`").cast("string") for k in key])


def mark_duplicate_relations(
    tagged: DataFrame,
    rule: UniqueRule,
    *,
    key: Sequence[str],
    event_time: str | None,
    existing: DataFrame | None,
    batch_id: str,
) -> DataFrame:
    """Quarantine accepted records that repeat a relation (see the module docstring).

    Args:
        tagged: records with ``_status`` and ``_problems`` (mark_outcomes' output).
        key: the table key, named in the detail; existing: the silver table (None when absent).
    """
    natural = list(rule.columns)
    columns = ", ".join(natural)
    keys = ", ".join(key)
    in_scope = (F.col(STATUS) == ACCEPTED) & _covered(rule)
    rest = tagged.where(~in_scope)
    scope = tagged.where(in_scope)

    order = ([F.col(f"`{event_time}`").asc_nulls_last()] if event_time else []) + [F.col(ARRIVAL)]
    by_relation = Window.partitionBy(*[F.col(f"`{c}`") for c in natural]).orderBy(*order)
    scope = scope.withColumn("_relation_rank", F.row_number().over(by_relation)).withColumn(
        "_kept_key", F.first(_key_text(key)).over(by_relation)
    )
    repeated_here = F.col("_relation_rank") > 1
    here_text = F.format_string(
        f"duplicate_relation: the same {columns} as {keys} %s, kept in this batch", F.col("_kept_key")
    )
    repeated_before = F.lit(False)
    before_text = F.lit(None).cast("string")
    if existing is not None:
        # One row per natural key (silver written before this rule may hold several): the earliest batch's.
        prior = (
            existing.where((F.col(BATCH_COLUMN) != batch_id) & _covered(rule))
            .groupBy(*[F.col(f"`{c}`") for c in natural])
            .agg(F.min(F.struct(F.col(BATCH_COLUMN).alias("batch"), _key_text(key).alias("key"))).alias("_prior"))
        )
        scope = scope.join(prior, on=natural, how="left")
        repeated_before = F.col("_prior").isNotNull()
        before_text = F.format_string(
            f"duplicate_relation: silver has the same {columns} from batch %s ({keys} %s)",
            F.col("_prior.batch"),
            F.col("_prior.key"),
        )
    text = F.when(repeated_before, before_text).otherwise(here_text)
    decided = scope.withColumn(
        PROBLEMS,
        F.when(repeated_before | repeated_here, F.array(problem("duplicate_relation", text))).otherwise(
            F.col(PROBLEMS)
        ),
    ).withColumn(STATUS, F.when(repeated_before | repeated_here, F.lit(QUARANTINED)).otherwise(F.col(STATUS)))
    return rest.unionByName(decided.select(*rest.columns))
