"""Deterministic randomness as Column expressions: every draw is a hash of (seed, salt, keys).

``F.rand`` depends on partitioning; a hash of the record's identity does not, so the same seed gives
the same rows whatever the cluster, the partition count or the order of evaluation. ``keys`` are the
record's identity (user index, record index, month index, ...); ``salt`` names the draw so that two
draws about the same record are independent.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.filters import mapped

Key = Column | int | str

_MANTISSA = (1 << 53) - 1
# Above this mean a Poisson draw uses the normal approximation (error well below the sampling noise).
_POISSON_EXACT_MAX = 30.0


def _key(key: Key) -> Column:
    if isinstance(key, Column):
        return key
    return F.lit(key).cast("long") if isinstance(key, int) else F.lit(key)


@functools.cache
def _stream(seed: int, salt: str) -> int:
    """One 64-bit constant per (seed, salt): hashed on the driver once instead of once per row."""
    digest = hashlib.blake2b(f"{seed}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def hash64(seed: int, salt: str, *keys: Key) -> Column:
    """A 64-bit hash of (seed, salt, keys); integer keys are hashed as longs so types never matter."""
    return F.xxhash64(F.lit(_stream(seed, salt)), *(_key(k) for k in keys))


def uniform(seed: int, salt: str, *keys: Key) -> Column:
    """Uniform in [0, 1) from the low 53 bits of the hash (every double in the range equally likely)."""
    return hash64(seed, salt, *keys).bitwiseAND(F.lit(_MANTISSA)).cast("double") / float(1 << 53)


def normal(seed: int, salt: str, *keys: Key) -> Column:
    """Standard normal (Box-Muller over two independent uniforms)."""
    u1 = F.lit(1.0) - uniform(seed, salt + "#r", *keys)  # in (0, 1], so the log is finite
    u2 = uniform(seed, salt + "#a", *keys)
    return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)


def clipped_normal(seed: int, salt: str, *keys: Key, bound: float = 4.0) -> Column:
    """Standard normal clipped to [-bound, bound], so that lognormal traits never explode."""
    return F.least(F.greatest(normal(seed, salt, *keys), F.lit(-bound)), F.lit(bound))


def exponential(seed: int, salt: str, *keys: Key) -> Column:
    """Exponential with mean 1."""
    return -F.log(F.lit(1.0) - uniform(seed, salt, *keys))


def poisson(mean: Column, seed: int, salt: str, *keys: Key) -> Column:
    """Poisson count with the given mean (an int Column; 0 for a mean <= 0).

    Exact inverse-CDF walk for small means (a built-in ``aggregate`` over at most ~62 steps), normal
    approximation above ``_POISSON_EXACT_MAX``.
    """
    m = F.greatest(mean.cast("double"), F.lit(0.0))
    u = uniform(seed, salt, *keys)
    init = F.struct(F.lit(0).alias("k"), F.exp(-m).alias("p"), F.exp(-m).alias("c"))

    def step(acc: Column, _: Column) -> Column:
        p = acc["p"] * m / (acc["k"] + 1).cast("double")
        advanced = F.struct((acc["k"] + 1).alias("k"), p.alias("p"), (acc["c"] + p).alias("c"))
        return F.when(acc["c"] <= u, advanced).otherwise(acc)

    # P(X > m + 5 sqrt(m) + 4) is below 1e-6 for every mean up to the exact limit.
    steps = F.ceil(m + F.lit(5.0) * F.sqrt(m) + F.lit(4.0)).cast("int")
    exact = F.aggregate(F.sequence(F.lit(1), steps), init, step, lambda acc: acc["k"])
    approx = F.greatest(F.round(m + F.sqrt(m) * normal(seed, salt + "#n", *keys)), F.lit(0.0)).cast("int")
    return F.when(m <= 0, F.lit(0)).when(m > _POISSON_EXACT_MAX, approx).otherwise(exact)


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative shares of ``weights`` (last one exactly 1.0)."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError(f"weights must have a positive sum, got {list(weights)}")
    out, running = [], 0.0
    for w in weights:
        running += w
        out.append(running / total)
    out[-1] = 1.0
    return out


def pick(values: Sequence, u: Column | str, weights: Sequence[float] | None = None) -> Column:
    """The value whose cumulative-weight bucket contains the uniform ``u`` (uniform weights by default).

    Weighted picks are a balanced tree of comparisons (log2(n) per row) that mentions ``u`` n - 1 times:
    pass the name of a column holding the draw (see ``with_draws``), not a hash expression, so that the
    expression and the generated code stay small.
    """
    if weights is None:
        u = F.col(u) if isinstance(u, str) else u
        choices = F.array(*(F.lit(v) for v in values))
        return choices[F.least(F.floor(u * len(values)).cast("int"), F.lit(len(values) - 1))]
    if not isinstance(u, str):
        raise TypeError("pick: weighted picks take the name of a column holding the uniform draw")
    bounds = cumulative(weights)

    def subtree(lo: int, hi: int) -> str:
        if lo == hi:
            return _sql_literal(values[lo])
        mid = (lo + hi) // 2
        return f"IF(`{u}` < {bounds[mid]:.17f}D, {subtree(lo, mid)}, {subtree(mid + 1, hi)})"

    # One SQL expression: a single call to build it however many values there are.
    return F.expr(subtree(0, len(values) - 1))


def _sql_literal(value: int | str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"pick: int or str values, got {value!r}")
    return str(value) if isinstance(value, int) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_draws(df: DataFrame, **draws: Column) -> DataFrame:
    """``df`` plus one column per draw: expressions that use a draw several times then reference a
    column instead of repeating its hash (Spark keeps such a projection apart, computed once)."""
    return df.select("*", *(draw.alias(name) for name, draw in draws.items()))


def lookup(column: Column, mapping: Mapping, default: float | str | None = None) -> Column:
    """``mapping[column]`` (literal map), ``default`` for values not in it."""
    if not mapping:
        return F.lit(default)
    return F.coalesce(mapped(column, mapping), F.lit(default)) if default is not None else mapped(column, mapping)


def skewed(n: int, skew: float) -> list[float]:
    """Weights ``(i + 1) ** -skew`` for n values: the first values of a vocabulary are the common ones."""
    return [(i + 1) ** -skew for i in range(n)]


def padded(number: Column, width: int) -> Column:
    """``number`` as a string, zero-padded to ``width`` digits (never truncated, unlike ``lpad``)."""
    text = number.cast("long").cast("string")
    return F.lpad(text, F.greatest(F.length(text), F.lit(width)), "0")
