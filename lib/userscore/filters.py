"""Row filters declared in YAML (``where: {column: [allowed values]}``, and rules: tags, segments, uplift
eligibility) as Spark conditions, and YAML mappings applied to a column.

Feature measures and target rules filter their source rows the same way, so the meaning of ``where`` is
defined once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config.features import FilterValue


def where_condition(where: Mapping[str, tuple[FilterValue, ...]]) -> Column:
    """Rows whose columns take one of the allowed values (true when ``where`` is empty)."""
    conditions = [F.col(c).isin(list(values)) for c, values in where.items()]
    return reduce(lambda a, b: a & b, conditions, F.lit(True))


def rule_holds(rule: str) -> Column:
    """A rule (validated at config load by config.rules: the safe subset over known columns, so F.expr sees
    only vetted text) as a condition; a rule that evaluates to null (null inputs) is false."""
    return F.coalesce(F.expr(rule).cast("boolean"), F.lit(False))


def mapped(column: Column, mapping: Mapping) -> Column:
    """``mapping[column]`` as a map literal (one expression, no join): null for values not in ``mapping``.
    E.g. each row's limit of its id type, or weight of its edge type, from YAML."""
    return F.create_map(*(F.lit(x) for item in mapping.items() for x in item))[column]
