"""Population stability index (PSI) and the binning it is computed on.

PSI(e, a) = sum over bins b of (a_b - e_b) * ln(a_b / e_b), with e_b and a_b the baseline (expected) and
current (actual) shares of rows in bin b. A share of 0 is floored at ``epsilon`` first, so a bin that is
empty on one side adds a large but finite term instead of infinity. Rules of thumb: < 0.1 stable, 0.1-0.2
watch, > 0.2 shifted.

Bins: a numeric column is cut at edges e_1 < ... < e_k (the baseline's quantiles, ties merged): bin 0 is
x <= e_1, bin i is e_i < x <= e_{i+1}, bin k is x > e_k; a missing value is bin ``null``. A string column
bins by value. Counting is one Spark aggregation for all columns of a frame (rows exploded to
(column, bin) pairs and counted); only the counts reach the driver.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

NULL_BIN = "null"


@dataclass(frozen=True)
class Binning:
    """How one column is cut: numeric ``edges`` (sorted, distinct) or, when ``categorical``, by value.
    ``name`` tells binnings of the same column apart in one count (default: the column)."""

    column: str
    edges: tuple[float, ...] = ()
    categorical: bool = False
    name: str = ""

    @property
    def id(self) -> str:
        return self.name or self.column

    def renamed(self, name: str) -> Binning:
        return Binning(self.column, self.edges, self.categorical, name)

    def key(self) -> Column:
        """The bin of each row as a string: ``"0"``..``"k"``, the value (categorical) or ``"null"``."""
        value = F.col(f"`{self.column}`")
        if self.categorical:
            return F.coalesce(value.cast("string"), F.lit(NULL_BIN))
        x = value.cast("double")
        # The number of edges below x. A higher-order function is evaluated, not code-generated: one
        # comparison per edge written out for every binned column (a few thousand in a drift count)
        # overflows the JVM's 64 KB method limit and Spark logs a failed compile before falling back.
        edges = F.array(*[F.lit(float(e)) for e in self.edges]) if self.edges else F.array().cast("array<double>")
        index = F.size(F.filter(edges, lambda edge: edge < x))
        return F.when(x.isNull() | F.isnan(x), F.lit(NULL_BIN)).otherwise(index.cast("string"))

    def bounds(self, key: str) -> tuple[float | None, float | None]:
        """(exclusive lower, inclusive upper) edge of a numeric bin; (None, None) otherwise."""
        if self.categorical or key == NULL_BIN:
            return None, None
        i = int(key)
        lower = self.edges[i - 1] if i > 0 else None
        upper = self.edges[i] if i < len(self.edges) else None
        return lower, upper


def psi(expected: Mapping[str, float], actual: Mapping[str, float], epsilon: float = 1e-4) -> float:
    """PSI of two distributions given as counts (or shares) per bin key; keys missing on a side count 0."""
    e_total, a_total = sum(expected.values()), sum(actual.values())
    if e_total <= 0 or a_total <= 0:
        return math.nan
    total = 0.0
    for key in set(expected) | set(actual):
        e = max(expected.get(key, 0.0) / e_total, epsilon)
        a = max(actual.get(key, 0.0) / a_total, epsilon)
        total += (a - e) * math.log(a / e)
    return total


def quantile_edges(cuts: Sequence[float | None]) -> tuple[float, ...]:
    """Distinct, sorted, finite cut points (tied quantiles of a column with few values merge)."""
    return tuple(sorted({float(c) for c in cuts if c is not None and math.isfinite(c)}))


def quantile_probabilities(bins: int) -> list[float]:
    return [i / bins for i in range(1, bins)]


def fit_binnings(
    df: DataFrame, numeric: Sequence[str], categorical: Sequence[str], bins: int, relative_error: float
) -> dict[str, Binning]:
    """Binnings of ``df``'s columns: numeric ones at their ``bins``-quantiles (one Spark job for all)."""
    out = {c: Binning(c, categorical=True) for c in categorical}
    numeric = list(numeric)
    if numeric:
        frame = df.select(*[F.col(f"`{c}`").cast("double").alias(c) for c in numeric])
        cuts = frame.approxQuantile(numeric, quantile_probabilities(bins), relative_error)
        out.update({c: Binning(c, quantile_edges(q)) for c, q in zip(numeric, cuts, strict=True)})
    return out


def binned_counts(df: DataFrame, binnings: Sequence[Binning], by: Sequence[str] = ()) -> dict[tuple, dict[str, int]]:
    """Rows per bin of every binning, in one aggregation: ``{(*by values, binning id): {bin key: rows}}``."""
    if not binnings:
        return {}
    pairs = F.array(*[F.struct(F.lit(b.id).alias("c"), b.key().alias("b")) for b in binnings])
    rows = (
        df.select(*by, F.explode(pairs).alias("_p"))
        .groupBy(*by, F.col("_p.c").alias("_c"), F.col("_p.b").alias("_b"))
        .count()
        .collect()
    )
    out: dict[tuple, dict[str, int]] = {}
    for r in rows:
        key = (*(r[c] for c in by), r["_c"])
        out.setdefault(key, {})[r["_b"]] = int(r["count"])
    return out
