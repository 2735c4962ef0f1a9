"""ClickHouse windowFunnel in plain Python, written from its documented rules (and the extension for
exclusions documented in userscore.analysis.window_funnel), to check the Spark engine against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def window_funnel(
    rows: Iterable[tuple[int, Iterable[int], Iterable[int]]],
    steps: int,
    window: int,
    *,
    strict_order: bool = False,
    strict_deduplication: bool = False,
    strict_increase: bool = False,
    exclusions: Sequence[tuple[int, int]] = (),
) -> tuple[int, list[int] | None]:
    """(furthest step, step timestamps of the first attempt that reached it) of one user's rows.

    rows: (ts, step numbers the row matches, exclusion numbers (1-based) the row matches).
    """
    entries = []
    for ts, matched, excluded in rows:
        matched, excluded = list(matched), list(excluded)
        entries += [(ts, s) for s in matched] + [(ts, steps + j) for j in excluded]
        if strict_order and not matched and not excluded:
            entries.append((ts, 0))  # another event: it breaks a strict-order attempt
    entries.sort()  # by time, ties by number: steps in order, "other" first, exclusions last
    attempts: list[list[int] | None] = [None] * steps  # per level: the latest attempt that reached it
    best, best_path, started = 0, None, False
    for ts, code in entries:
        if code == 0:
            if started:
                break
            continue
        if code > steps:
            first, last = exclusions[code - steps - 1]
            for level in range(first, last):
                attempts[level - 1] = None
            continue
        if code == 1:
            attempts[0] = [ts]
            started = True
            if best < 1:
                best, best_path = 1, [ts]
            continue
        previous = attempts[code - 2]
        if strict_deduplication and attempts[code - 1] is not None:
            break
        if strict_order and started and previous is None:
            break
        if previous is None or ts > previous[0] + window:
            continue
        if strict_increase and not previous[-1] < ts:
            continue
        attempts[code - 1] = previous + [ts]
        if code > best:
            best, best_path = code, attempts[code - 1]
        if code == steps:
            break
    return best, best_path
