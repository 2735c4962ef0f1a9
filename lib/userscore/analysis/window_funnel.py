"""The per-user funnel engine: ClickHouse ``windowFunnel`` as a Spark higher-order function.

Rules (ClickHouse's current source, src/AggregateFunctions/AggregateFunctionWindowFunnel.cpp, the
non-``strict_once`` path, and its documentation), for one user and one funnel of n steps and window w.
Older ClickHouse releases differ under ``strict_deduplication``: there a repeated step returned the step
number of the entry just before it (a, b, a, b gave 1; the current source stops the scan and returns the
furthest level, 2, as rule 5 here). Results from such a server may differ from these rules in that mode:

1. The stream. Every row matching step i's condition gives an entry (ts, i); a row matching several
   steps gives one entry per step. Under ``strict_order`` a row matching no step (nor exclusion) gives
   (ts, 0). Entries are sorted by (ts, i): ties on the timestamp are ordered by step number (0 first).
2. State: for each level k (1..n) the latest attempt that reached step k, as the timestamps of its steps.
3. A step-1 entry starts a new attempt: level 1 becomes (ts); a later step-1 event restarts the window.
   Levels already reached are kept: the result is the furthest level any attempt reached.
4. A step-i entry (i > 1) advances the attempt at level i-1 when ts <= (its step-1 ts) + w: the window is
   measured from step 1, inclusive. The attempt's copy at level i is replaced by the advanced one.
5. ``strict_deduplication``: a step-i entry (i > 1) while level i is already reached ends the scan; the
   result is the furthest level reached before it (a, b, b, c gives 2, not 3).
6. ``strict_order``: after the first step-1 entry, a (ts, 0) entry (another event) ends the scan, and so
   does a step-i entry whose level i-1 was never reached (a step out of order).
7. ``strict_increase``: rule 4 also needs ts > the timestamp of the attempt's step i-1.
8. Reaching step n ends the scan. The result is the furthest level reached (0: step 1 never happened).

Checks 5, 6 and 4 are tried in that order, as ClickHouse does. Exclusions are ours (Mixpanel, Amplitude
and PostHog have them; windowFunnel does not): exclusion j with steps (a, b) gives entries (ts, n + j),
so on a tie they come after every step (their number is higher). Such an entry drops the attempts held at
levels a..b-1: they can no longer advance to b. Rules 5 and 6 look at the attempts still held, and the
result stays the furthest level ever reached, so with no exclusions the result is windowFunnel's exactly.

Besides the level, the engine returns the step timestamps of the first attempt (in sorted order) that
reached the furthest level: the times to convert. Timestamps are epoch microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

_PATH = T.ArrayType(T.LongType())
STATE = T.StructType(
    [
        T.StructField("levels", T.ArrayType(_PATH)),
        T.StructField("best", T.IntegerType()),
        T.StructField("path", _PATH),
        T.StructField("started", T.BooleanType()),
        T.StructField("done", T.BooleanType()),
    ]
)


@dataclass(frozen=True)
class FunnelRules:
    """What the engine needs of one funnel: its step count, window and options, and each exclusion's
    (from_step, to_step) in entry-number order (entry n + 1 is the first exclusion)."""

    steps: int
    window_micros: int
    strict_order: bool = False
    strict_deduplication: bool = False
    strict_increase: bool = False
    exclusions: Sequence[tuple[int, int]] = ()


def furthest(entries: Column, rules: FunnelRules) -> Column:
    """struct(best int, path array<long>) of a user's ``entries`` (array of struct(ts long, code int), any
    order): the furthest step reached and the step timestamps of the attempt that reached it first."""
    n = rules.steps
    zero = F.struct(
        F.array_repeat(F.lit(None).cast(_PATH), n).alias("levels"),
        F.lit(0).alias("best"),
        F.lit(None).cast(_PATH).alias("path"),
        F.lit(False).alias("started"),
        F.lit(False).alias("done"),
    ).cast(STATE)
    final = F.aggregate(F.array_sort(entries), zero, lambda acc, e: _advance(acc, e, rules))
    return F.struct(final["best"].alias("best"), final["path"].alias("path"))


def _advance(acc: Column, e: Column, rules: FunnelRules) -> Column:
    n = rules.steps
    ts, code = e["ts"], e["code"]
    levels, best, path, started, done = (acc[f] for f in ("levels", "best", "path", "started", "done"))
    is_step = (code >= 2) & (code <= n)
    # Indices are clamped so element_at stays in bounds under ANSI mode whatever branch is taken.
    previous = F.when(is_step, F.element_at(levels, F.least(F.greatest(code - 1, F.lit(1)), F.lit(n))))
    current = F.when(is_step, F.element_at(levels, F.least(F.greatest(code, F.lit(1)), F.lit(n))))
    in_time = ts <= F.element_at(previous, 1) + F.lit(rules.window_micros)
    if rules.strict_increase:
        in_time = in_time & (F.element_at(previous, -1) < ts)
    advanced = F.concat(previous, F.array(ts))

    restart = code == 1
    stop = F.lit(False)
    if rules.strict_deduplication:
        stop = stop | (is_step & current.isNotNull())
    if rules.strict_order:
        stop = stop | ((code == 0) & started) | (is_step & started & previous.isNull())
    advance = is_step & ~stop & previous.isNotNull() & in_time
    excluded = code > n

    def set_level(index: Column, value: Column) -> Column:
        return F.transform(levels, lambda x, i: F.when(i == index, value).otherwise(x))

    if rules.exclusions:
        starts = F.array(*[F.lit(a) for a, _ in rules.exclusions])
        ends = F.array(*[F.lit(b) for _, b in rules.exclusions])
        j = F.least(F.greatest(code - n, F.lit(1)), F.lit(len(rules.exclusions)))
        first_dropped, first_kept = F.element_at(starts, j), F.element_at(ends, j)
        cleared = F.transform(
            levels, lambda x, i: F.when((i + 1 >= first_dropped) & (i + 1 < first_kept), F.lit(None)).otherwise(x)
        )
    else:
        cleared = levels
    grows = advance & (code > best)

    new_levels = (
        F.when(done, levels)
        .when(restart, set_level(F.lit(0), F.array(ts)))
        .when(stop, levels)
        .when(advance, set_level(code - 1, advanced))
        .when(excluded, cleared)
        .otherwise(levels)
    )
    new_best = F.when(done, best).when(restart, F.greatest(best, F.lit(1))).when(grows, code).otherwise(best)
    new_path = F.when(done, path).when(restart & (best < 1), F.array(ts)).when(grows, advanced).otherwise(path)
    new_started = started | (~done & restart)
    new_done = done | stop | (advance & (code == n))
    return F.struct(
        new_levels.alias("levels"),
        new_best.alias("best"),
        new_path.alias("path"),
        new_started.alias("started"),
        new_done.alias("done"),
    ).cast(STATE)
