"""Config section ``tags``: the tag dictionary (conf/base/tags.yaml).

Each tag (keyed by its id, which is also its column name in the score rows and the wide table) has a
name, a category, a definition, an owner, a refresh cadence, a sensitivity and a description. A
definition is one of:
- ``rule``: a boolean expression over feature and score columns (a null result counts as false);
- ``column`` with ``bins``: a numeric column cut at ``edges`` into ``labels`` (len(edges) + 1 labels;
  ``labels[i]`` for edges[i-1] <= x < edges[i]); null stays null;
- ``column`` alone: the column's value as a string (e.g. a model tier or the top category).
Rules are checked by :func:`userscore.config.rules.validate_rule` at load time; a bad rule fails with the tag id
in the key path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import field
from typing import Literal

from userscore.config.rules import RuleError, validate_rule
from userscore.config.typed import KeyPath, frozen

TagCategory = Literal["value", "risk", "preference", "lifecycle", "engagement", "social", "profile"]
Cadence = Literal["daily", "weekly", "monthly"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@frozen
class TagBins:
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self):
        if not self.edges or any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"edges: strictly increasing numbers, got {list(self.edges)}")
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(
                f"labels: {len(self.edges) + 1} labels for {len(self.edges)} edges, got {len(self.labels)}"
            )


@frozen
class TagDefinition:
    """Exactly one of ``rule`` or ``column`` (``bins`` only with ``column``)."""

    rule: str | None = None
    column: str | None = None
    bins: TagBins | None = None

    def __post_init__(self):
        if (self.rule is None) == (self.column is None):
            raise ValueError("rule: give a rule, or a column (with optional bins), not both or neither")
        if self.bins is not None and self.column is None:
            raise ValueError("bins: only with a column")

    @property
    def kind(self) -> str:
        return "rule" if self.rule is not None else ("bins" if self.bins is not None else "column")


@frozen
class TagSpec:
    name: str
    category: TagCategory
    definition: TagDefinition
    owner: str
    refresh: Cadence
    sensitivity: Sensitivity
    description: str


@frozen
class TagsConfig:
    """The tag dictionary: id -> tag, in output order."""

    dictionary: Mapping[str, TagSpec] = field(default_factory=dict)

    def __post_init__(self):
        bad = [tag_id for tag_id in self.dictionary if not _ID.match(tag_id)]
        if bad:
            raise ValueError(f"dictionary: lower_snake_case tag ids (they are column names), got {bad}")


def reference_errors(tags: TagsConfig, columns: Collection[str]) -> Iterator[tuple[KeyPath, str, str]]:
    """Rules outside the safe subset or over unknown columns, unknown source columns, and tag ids that
    clash with a feature or score column; each error's key path names the tag."""
    known = set(columns)
    for tag_id, spec in tags.dictionary.items():
        at: KeyPath = ("tags", "dictionary", tag_id)
        if tag_id in known:
            yield at, f"tag id {tag_id!r} that is already a feature or score column", "a distinct tag id"
        definition = spec.definition
        if definition.rule is not None:
            try:
                validate_rule(definition.rule, known)
            except RuleError as exc:
                yield (*at, "definition", "rule"), f"invalid rule for tag {tag_id!r}: {exc}", _RULE_HELP
        elif definition.column not in known:
            yield (
                (*at, "definition", "column"),
                f"undefined column {definition.column!r} for tag {tag_id!r}",
                "a feature or score column",
            )


_RULE_HELP = "a rule over feature and score columns using literals, operators and whitelisted functions"
