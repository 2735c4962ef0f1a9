"""The tag dictionary: every tag's governance record, loaded from config (no Spark needed).

The dictionary is what ``userscore tags list|show ID`` prints and what the scoring pass turns into
columns (:mod:`userscore.scoring.tags`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from userscore.config.tags import TagBins, TagDefinition, TagsConfig
from userscore.errors import InputError


@dataclass(frozen=True)
class Tag:
    """One tag with its id (also its column name)."""

    id: str
    name: str
    category: str
    definition: TagDefinition
    owner: str
    refresh: str
    sensitivity: str
    description: str

    @property
    def kind(self) -> str:
        return self.definition.kind

    @property
    def definition_text(self) -> str:
        """The definition as one line: the rule, ``column`` or ``column: bins``."""
        d = self.definition
        if d.rule is not None:
            return d.rule
        if d.bins is None:
            return d.column or ""
        return f"{d.column}: {_bins_text(d.bins)}"


def _bins_text(bins: TagBins) -> str:
    parts = [f"{bins.labels[0]} < {bins.edges[0]:g}"]
    parts += [
        f"{lo:g} <= {label} < {hi:g}"
        for lo, hi, label in zip(bins.edges[:-1], bins.edges[1:], bins.labels[1:-1], strict=True)
    ]
    parts.append(f"{bins.labels[-1]} >= {bins.edges[-1]:g}")
    return ", ".join(parts)


@dataclass(frozen=True)
class TagDictionary:
    """The tags in config order, with lookup by id."""

    tags: tuple[Tag, ...]

    def __iter__(self) -> Iterator[Tag]:
        return iter(self.tags)

    def __len__(self) -> int:
        return len(self.tags)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tags)

    def get(self, tag_id: str) -> Tag:
        """The tag ``tag_id``; InputError listing the known ids otherwise."""
        for tag in self.tags:
            if tag.id == tag_id:
                return tag
        raise InputError(f"no tag {tag_id!r} in the tag dictionary (conf tags.dictionary): known {list(self.ids)}")


def load_dictionary(config: TagsConfig) -> TagDictionary:
    """The dictionary from the (already validated) ``tags`` config section."""
    return TagDictionary(
        tuple(
            Tag(
                id=tag_id,
                name=spec.name,
                category=spec.category,
                definition=spec.definition,
                owner=spec.owner,
                refresh=spec.refresh,
                sensitivity=spec.sensitivity,
                description=spec.description,
            )
            for tag_id, spec in config.dictionary.items()
        )
    )


def list_lines(dictionary: TagDictionary) -> list[str]:
    """One line per tag, grouped by category: id, name, kind, refresh, sensitivity, owner."""
    rows = sorted(dictionary, key=lambda t: (t.category, t.id))
    width = max([len(t.id) for t in rows] + [2])
    name_width = max([len(t.name) for t in rows] + [4])

    def line(*cells: str) -> str:
        category, tag_id, name, kind, refresh, sensitivity, owner = cells
        return f"{category:<11} {tag_id:<{width}} {name:<{name_width}} {kind:<6} {refresh:<8} {sensitivity:<12} {owner}"

    header = line("category", "id", "name", "kind", "refresh", "sensitivity", "owner")
    lines = [header, "-" * len(header)]
    lines += [line(t.category, t.id, t.name, t.kind, t.refresh, t.sensitivity, t.owner) for t in rows]
    lines.append(f"{len(rows)} tags")
    return lines


def show_lines(tag: Tag) -> list[str]:
    """Every field of one tag."""
    fields: Sequence[tuple[str, str]] = (
        ("id", tag.id),
        ("name", tag.name),
        ("category", tag.category),
        ("kind", tag.kind),
        ("definition", tag.definition_text),
        ("owner", tag.owner),
        ("refresh", tag.refresh),
        ("sensitivity", tag.sensitivity),
        ("description", tag.description),
    )
    return [f"{key + ':':<13}{value}" for key, value in fields]
