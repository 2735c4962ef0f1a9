"""Config section ``segments``: audiences from rules over scores and tags (conf/base/segments.yaml).

Segments are grouped in families (e.g. retention, activation). Within a family a user belongs to at
most one segment: the matching segment with the lowest ``priority`` number. Each segment maps to a
strategy and a channel. A deterministic share of each segment's members (by a hash of user, family and
``control_salt``) is held out as the control group, so campaign lift can be measured.

A segment may also rank: ``rank_by`` (a numeric score column) and ``top_share`` keep only the highest-ranked
share of the users whose rule holds (e.g. the top 30% of persuadables by predicted uplift).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import field
from typing import Annotated

from userscore.config.rules import RuleError, validate_rule
from userscore.config.typed import Count, KeyPath, Range, frozen

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# At most half of a segment is held out: the rest is the treated audience.
ControlShare = Annotated[float, Range(0.0, 0.5)]
TopShare = Annotated[float, Range(0.0, 1.0, low_open=True)]


@frozen
class SegmentSpec:
    """One audience: users matching ``rule`` (a boolean rule over feature, score and tag columns).

    rank_by / top_share (both or neither): of the users whose rule holds, keep those whose ``rank_by`` is
    at least the value of the ceil(top_share x n)-th highest (an approximate quantile; every user tied at
    that value is kept, users without a value are not). The share is of the rule's users, whatever the
    segments of higher priority take: one aggregation gives every ranked segment its cut.
    """

    rule: str
    strategy: str
    channel: str
    priority: Count
    description: str = ""
    control_share: ControlShare | None = None
    rank_by: str | None = None
    top_share: TopShare | None = None

    def __post_init__(self):
        if (self.rank_by is None) != (self.top_share is None):
            raise ValueError(
                f"rank_by and top_share: both or neither, got rank_by={self.rank_by!r}, top_share={self.top_share!r}"
            )

    @property
    def ranked(self) -> bool:
        return self.rank_by is not None


@frozen
class FamilySpec:
    """Mutually exclusive segments; ``control_share`` applies to segments that do not set their own."""

    segments: Mapping[str, SegmentSpec]
    description: str = ""
    control_share: ControlShare

    def __post_init__(self):
        if not self.segments:
            raise ValueError("segments: at least one segment")
        bad = [s for s in self.segments if not _ID.match(s)]
        if bad:
            raise ValueError(f"segments: lower_snake_case segment ids, got {bad}")
        priorities = [s.priority for s in self.segments.values()]
        if len(set(priorities)) != len(priorities):
            raise ValueError(f"segments: distinct priorities within a family, got {priorities}")

    def ordered(self) -> list[tuple[str, SegmentSpec]]:
        """Segments by priority (1 first)."""
        return sorted(self.segments.items(), key=lambda item: item[1].priority)

    def share(self, segment: SegmentSpec) -> float:
        return self.control_share if segment.control_share is None else segment.control_share


@frozen
class SegmentsConfig:
    table: str
    excluded_table: str
    control_salt: str
    families: Mapping[str, FamilySpec] = field(default_factory=dict)

    def __post_init__(self):
        bad = [f for f in self.families if not _ID.match(f)]
        if bad:
            raise ValueError(f"families: lower_snake_case family ids, got {bad}")


def reference_errors(
    segments: SegmentsConfig, tables: Mapping[str, object], columns: Collection[str], numeric: Collection[str]
) -> Iterator[tuple[KeyPath, str, str]]:
    """The audience table must be declared; every rule must pass the safe-rule check over ``columns``
    (features, scores and tags) and every ``rank_by`` name one of ``numeric`` (the numeric columns of the
    score row); the key path names the family and the segment."""
    if not segments.families:
        return
    for key in ("table", "excluded_table"):
        if getattr(segments, key) not in tables:
            yield ("segments", key), f"undefined table {getattr(segments, key)!r}", f"one of {sorted(tables)}"
    for family_id, family in segments.families.items():
        for segment_id, segment in family.segments.items():
            try:
                validate_rule(segment.rule, columns)
            except RuleError as exc:
                yield (
                    ("segments", "families", family_id, "segments", segment_id, "rule"),
                    f"invalid rule for segment {family_id}.{segment_id}: {exc}",
                    "a rule over feature, score and tag columns using whitelisted functions",
                )
            if segment.ranked and segment.rank_by not in numeric:
                kind = "a non-numeric column" if segment.rank_by in columns else "an unknown column"
                yield (
                    ("segments", "families", family_id, "segments", segment_id, "rank_by"),
                    f"segment {family_id}.{segment_id} ranks by {segment.rank_by!r}, {kind}",
                    f"a numeric score column: one of {sorted(numeric)}",
                )
