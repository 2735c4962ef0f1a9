"""Config section ``analysis.funnels``: conversion funnels over behaviour events and orders
(conf/base/analysis_funnels.yaml; the engine's rules are in userscore.analysis.window_funnel).

A funnel is ordered steps, each a condition over one row of the events (event_type / page / category /
a safe SQL ``where``) or of the orders (``source: orders``, category / ``where``), a conversion window
measured from step 1, ClickHouse windowFunnel's options and exclusion steps. Breakdowns are columns of the
scores or users table of a type with few values (string, int, boolean; not a key column such as user_id),
or ``segment:<family>`` (the user's segment in that audience family); the step table keeps each
breakdown's ``max_breakdown_values`` largest values and sums the rest into one value. Those tables
are the job's inputs, named once in ``analysis.inputs`` (config/analysis_inputs.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import field
from typing import Annotated, Literal

from userscore.config.analysis_inputs import AnalysisInputTables
from userscore.config.rules import RuleError, validate_rule
from userscore.config.typed import Count, KeyPath, Range, frozen

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_STEPS = 32  # windowFunnel's own limit: a step number fits the engine's small state
MAX_WINDOW_SECONDS = 365 * 86_400
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3_600, "days": 86_400}
SEGMENT_PREFIX = "segment:"
# Types a breakdown column may have: timestamps, doubles and longs have a value per user, not categories.
BREAKDOWN_TYPES = ("string", "int", "boolean")
Source = Literal["events", "orders"]


@frozen
class Condition:
    """One row condition: every given field must hold (a list = any of its values; a page ending in ``*``
    is a prefix). ``source: orders`` takes order rows, where only ``categories`` and ``where`` apply."""

    name: str
    source: Source
    event_types: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    where: str | None = None

    def __post_init__(self):
        if not _ID.match(self.name):
            raise ValueError(f"name: a lower_snake_case id, got {self.name!r}")
        if self.source == "orders" and (self.event_types or self.pages):
            raise ValueError("event_types / pages: only for source events (orders have category and where)")


@frozen
class Exclusion(Condition):
    """An event that cancels a funnel attempt between two steps: attempts that reached ``from_step`` (or a
    later step before ``to_step``) and not yet ``to_step`` can no longer advance. Default: steps 1 to last."""

    from_step: Count | None = None
    to_step: Count | None = None


@frozen
class DroppedAudience:
    """How the users who stopped at a step are offered to campaigns (audiences.segment_members' shape)."""

    strategy: str
    channel: str
    control_share: Annotated[float, Range(0.0, 0.5)]


@frozen
class Funnel:
    """Ordered steps, a conversion window from step 1 and windowFunnel's options."""

    description: str = ""
    steps: tuple[Condition, ...]
    window: Count
    window_unit: Literal["seconds", "minutes", "hours", "days"]
    strict_order: bool = False
    strict_deduplication: bool = False
    strict_increase: bool = False
    exclusions: tuple[Exclusion, ...] = ()
    audience: DroppedAudience

    def __post_init__(self):
        if not 1 <= len(self.steps) <= MAX_STEPS:
            raise ValueError(f"steps: 1 to {MAX_STEPS} steps, got {len(self.steps)}")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"steps: distinct step names, got {names}")
        if self.window_seconds > MAX_WINDOW_SECONDS:
            raise ValueError(f"window: at most 365 days, got {self.window} {self.window_unit}")
        for i, ex in enumerate(self.exclusions):
            a, b = self.exclusion_range(ex)
            if not 1 <= a < b <= len(self.steps):
                raise ValueError(f"exclusions[{i}]: from_step < to_step within 1..{len(self.steps)}, got {a} and {b}")

    @property
    def window_seconds(self) -> int:
        return self.window * UNIT_SECONDS[self.window_unit]

    def exclusion_range(self, exclusion: Exclusion) -> tuple[int, int]:
        """(from_step, to_step) with the defaults filled in."""
        return exclusion.from_step or 1, exclusion.to_step or len(self.steps)

    def uses(self, source: str) -> bool:
        return any(c.source == source for c in (*self.steps, *self.exclusions))


@frozen
class FunnelTables:
    """Where the funnel analysis writes (partition as_of_date; conf/base/tables_analysis_funnels.yaml)."""

    steps: str
    dropped: str


@frozen
class FunnelsAnalysis:
    """Declared in conf/base/analysis_funnels.yaml."""

    funnels: Mapping[str, Funnel] = field(default_factory=dict)
    breakdowns: tuple[str, ...] = ()
    quantile_accuracy: Annotated[int, Range(100, 1_000_000)]
    report_top_values: Count
    max_breakdown_values: Count
    tables: FunnelTables

    def __post_init__(self):
        bad = [f for f in self.funnels if not _ID.match(f)]
        if bad:
            raise ValueError(f"funnels: lower_snake_case funnel ids, got {bad}")
        if len(set(self.breakdowns)) != len(self.breakdowns):
            raise ValueError(f"breakdowns: distinct entries, got {list(self.breakdowns)}")
        if self.report_top_values > self.max_breakdown_values:
            raise ValueError(
                f"report_top_values: at most max_breakdown_values ({self.max_breakdown_values}), "
                f"got {self.report_top_values}"
            )


def reference_errors(
    funnels: FunnelsAnalysis, inputs: AnalysisInputTables, tables: Mapping[str, object], families: Collection[str]
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined output tables, step ``where`` rules outside the safe subset or naming unknown columns of the
    events / orders input, breakdown columns of neither the scores nor the users input (or of a type other
    than ``BREAKDOWN_TYPES``, or a key column), and unknown segment families. An undefined input table is
    not reported here (analysis.inputs' check names it): the column checks are then skipped."""
    at: KeyPath = ("analysis", "funnels")
    known = sorted(tables)
    for key in ("steps", "dropped"):
        if getattr(funnels.tables, key) not in tables:
            yield (*at, "tables", key), f"undefined table {getattr(funnels.tables, key)!r}", f"one of {known}"
    names = {"events": inputs.events, "orders": inputs.orders}
    # userscore.analysis.funnels.breakdown_values looks a breakdown up in the scores, then in the users.
    breakdown_tables = (inputs.scores, inputs.users)
    if any(n not in tables for n in (*names.values(), *breakdown_tables)):
        return
    columns = {source: tables[name].column_names for source, name in names.items()}  # type: ignore[attr-defined]
    for funnel_id, funnel in funnels.funnels.items():
        for kind, conditions in (("steps", funnel.steps), ("exclusions", funnel.exclusions)):
            for i, condition in enumerate(conditions):
                if condition.where is None:
                    continue
                try:
                    validate_rule(condition.where, columns[condition.source])
                except RuleError as exc:
                    yield (
                        (*at, "funnels", funnel_id, kind, str(i), "where"),
                        f"invalid condition: {exc}",
                        f"a rule over the columns of {names[condition.source]}",
                    )
    for breakdown in funnels.breakdowns:
        if breakdown.startswith(SEGMENT_PREFIX):
            family = breakdown[len(SEGMENT_PREFIX) :]
            if family not in families:
                yield (*at, "breakdowns"), f"unknown segment family {family!r}", f"one of {sorted(families)}"
            continue
        # The first table holding the column is the one breakdown_values reads it from.
        holders = [n for n in breakdown_tables if breakdown in tables[n].column_names]  # type: ignore[attr-defined]
        holder = holders[0] if holders else None
        if holder is None:
            yield (
                (*at, "breakdowns"),
                f"undefined column {breakdown!r}",
                f"a column of {list(breakdown_tables)} or segment:<family>",
            )
            continue
        spec = tables[holder]
        kind = spec.column(breakdown).type  # type: ignore[attr-defined]
        if breakdown in spec.key or kind not in BREAKDOWN_TYPES:  # type: ignore[attr-defined]
            found = "a key column" if breakdown in spec.key else f"type {kind}"  # type: ignore[attr-defined]
            yield (
                (*at, "breakdowns"),
                f"column {breakdown!r} of {holder} is {found}",
                f"a non-key {'/'.join(BREAKDOWN_TYPES)} column or segment:<family>",
            )
