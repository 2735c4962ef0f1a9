"""Config section ``analysis.paths``: behaviour paths (sessions, top paths, transitions, funnel outcomes).

A session is a user's run of events with no gap longer than ``session_gap_minutes``. Its path is the
sequence of its elements (event types, or pages) in time order with consecutive repeats collapsed; the
analyses look at most ``depth`` elements deep (analysis/paths.py says exactly how).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Annotated, Literal

from userscore.config.typed import KeyPath, Range, frozen

# Beyond a day a "session" is a user's whole visit history; beyond 20 elements no chart or table is read.
_GapMinutes = Annotated[int, Range(1, 1440)]
_Depth = Annotated[int, Range(2, 20)]
_Top = Annotated[int, Range(1, 1000)]


@frozen
class PathsTables:
    """Where the paths analysis writes (partition as_of_date; conf/base/tables_analysis_paths.yaml)."""

    paths: str
    transitions: str


@frozen
class PathsAnalysis:
    """Declared in conf/base/analysis_paths.yaml.

    element: ``event_type``, or ``page``: events of the ``page_events`` types that have a page show as the
    page's first ``page_levels`` "/"-separated parts (product/shoes/17 is "product" at level 1); every
    other event shows as its event type (``other_events: event_type``) or is left out of paths
    (``other_events: skip``; it still keeps a session alive). Anchors are element values.
    ``compare_funnels``: funnels whose converted and dropped users' paths are compared (empty: every
    funnel in the funnel outcomes).
    """

    session_gap_minutes: _GapMinutes
    element: Literal["event_type", "page"]
    page_events: tuple[str, ...]
    page_levels: Annotated[int, Range(1, 10)]
    other_events: Literal["event_type", "skip"]
    depth: _Depth
    top_paths: _Top
    start_anchors: tuple[str, ...]
    end_anchors: tuple[str, ...]
    compare_funnels: tuple[str, ...]
    transitions_per_step: _Top
    tables: PathsTables

    def __post_init__(self):
        if self.element == "page" and not self.page_events:
            raise ValueError("page_events: at least one event type when element is page")
        for key in ("page_events", "start_anchors", "end_anchors", "compare_funnels"):
            values = list(getattr(self, key))
            duplicated = sorted({v for v in values if values.count(v) > 1})
            if duplicated:
                raise ValueError(f"{key}: distinct values, {duplicated} listed twice")
            if any(not v for v in values):
                raise ValueError(f"{key}: non-empty names")


def reference_errors(paths: PathsAnalysis, tables: Mapping[str, object]) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined tables the paths analysis writes."""
    for key in ("paths", "transitions"):
        name = getattr(paths.tables, key)
        if name not in tables:
            yield ("analysis", "paths", "tables", key), f"undefined table {name!r}", f"one of {sorted(tables)}"


def funnel_errors(paths: PathsAnalysis, funnels: Collection[str]) -> Iterator[tuple[KeyPath, str, str]]:
    """Compared funnels that are not declared in ``analysis.funnels`` (``funnels``: the declared names)."""
    for i, name in enumerate(paths.compare_funnels):
        if name not in funnels:
            yield (
                ("analysis", "paths", "compare_funnels", str(i)),
                f"undefined funnel {name!r}",
                (f"one of {sorted(funnels)}"),
            )
