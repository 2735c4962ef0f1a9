"""Config section ``analysis.interests``: interest share by group and interest-to-purchase conversion.

The interests themselves are point-in-time features (``features.interests``, columns interest_1..k of
features.user_features at D); this section says how the analysis groups users and defines conversion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from userscore.config.analysis_inputs import AnalysisInputTables
from userscore.config.features import FilterValue, check_where
from userscore.config.typed import Days, KeyPath, frozen


@frozen
class InterestBreakdowns:
    """Groups the interest shares are computed for: ``columns`` of the scores of D (``analysis.inputs.scores``,
    e.g. grade) and, with ``segment_families``, each family of the segments input (one group per segment)."""

    columns: tuple[str, ...]
    segment_families: bool = False

    def __post_init__(self):
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"columns: distinct column names, got {list(self.columns)}")
        if not self.columns and not self.segment_families:
            raise ValueError("columns: at least one column, or segment_families: true (nothing to group by)")


@frozen
class InterestConversion:
    """Interest-to-purchase conversion per category (userscore.analysis.interests says it exactly).

    event_types: the signals that show interest (purchases excluded: they are the outcome);
    window_days: how long after the first signal a purchase counts; order_where: the orders that count.
    """

    event_types: tuple[str, ...]
    window_days: Days
    order_where: Mapping[str, tuple[FilterValue, ...]]

    def __post_init__(self):
        if not self.event_types:
            raise ValueError("event_types: at least one event type that shows interest")
        check_where(self.order_where)


@frozen
class InterestTables:
    share: str
    conversion: str


@frozen
class InterestsAnalysis:
    """Declared in conf/base/analysis_interests.yaml."""

    tables: InterestTables
    breakdowns: InterestBreakdowns
    conversion: InterestConversion


def reference_errors(
    section: InterestsAnalysis, inputs: AnalysisInputTables, tables: Mapping[str, object]
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined tables the section writes, and breakdown columns the scores input does not declare (an
    undefined input table is named by analysis.inputs' check; its columns are then not checked)."""
    known = sorted(tables)
    at: KeyPath = ("analysis", "interests")
    for key in ("share", "conversion"):
        name = getattr(section.tables, key)
        if name not in tables:
            yield (*at, "tables", key), f"undefined table {name!r}", f"one of {known}"
    table = inputs.scores
    if table not in tables:
        return
    columns = getattr(tables[table], "column_names", ())
    for i, column in enumerate(section.breakdowns.columns):
        if column not in columns:
            yield (
                (*at, "breakdowns", "columns", str(i)),
                f"undefined column {column!r} of {table}",
                f"one of {list(columns)}",
            )
