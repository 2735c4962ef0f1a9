"""Deterministic pseudo-random draws from row keys: the same rows fall in the same sample, split or control
group whatever the partitioning, and the draw is reproducible outside Spark."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def uniform_hash(salt: str, *columns: str | Column) -> Column:
    """A number in [0, 1) from the first 32 bits of md5('salt|c1|c2...'); names or Columns.

    Reproducible outside Spark: int(md5(text).hexdigest()[:8], 16) / 2**32.
    """
    values = [(F.col(c) if isinstance(c, str) else c).cast("string") for c in columns]
    text = F.concat_ws("|", F.lit(salt), *values)
    return F.conv(F.substring(F.md5(text), 1, 8), 16, 10).cast("double") / float(2**32)
