"""Tag dictionary -> columns: rules as booleans, binned columns as labels, source columns as strings."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.config.tags import TagBins
from userscore.filters import rule_holds
from userscore.tags.dictionary import Tag, TagDictionary


def bins(value: Column, spec: TagBins) -> Column:
    """labels[0] below edges[0], labels[i] in [edges[i-1], edges[i]), labels[-1] from edges[-1]; null stays null."""
    expr = F.when(value.isNull(), F.lit(None).cast("string"))
    for edge, label in zip(spec.edges, spec.labels, strict=False):
        expr = expr.when(value < F.lit(edge), F.lit(label))
    return expr.otherwise(F.lit(spec.labels[-1]))


def tag_column(tag: Tag) -> Column:
    """One tag's value. Rules were validated at config load (safe subset, known columns), so F.expr
    sees only vetted text; a rule that evaluates to null (null inputs) counts as false."""
    d = tag.definition
    if d.rule is not None:
        return rule_holds(d.rule)
    if d.bins is not None:
        return bins(F.col(d.column).cast("double"), d.bins)
    return F.col(d.column).cast("string")


def with_tags(df: DataFrame, dictionary: TagDictionary) -> DataFrame:
    """Add one column per tag (named by the tag id), in dictionary order."""
    return df.withColumns({tag.id: tag_column(tag) for tag in dictionary}) if len(dictionary) else df
