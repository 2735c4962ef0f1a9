"""One user's look-up document as JSON, computed by Spark from a wide-table row (no Python per row).

    {"user_id", ["member_user_ids" (keyed by person),] "as_of_date", "scored_at",
     "rfm": {carried feature columns}, "scores": {target: {probability, tier, reasons, model_version}},
     "customer_base": {BTYD columns, model_version}, "value": {value_score, grade, reasons},
     "tags": {tag id: value}, "model_versions": {target: version, "btyd": version}}

Tags whose dictionary sensitivity is ``restricted`` are left out of the document and kept in a second JSON
object, served only to keys with the restricted scope. Nulls are kept (``"x": null``), so every document
of a snapshot has the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.config import Config
from userscore.config.btyd import MODEL_VERSION as BTYD_MODEL_VERSION
from userscore.config.scoring import TARGET_SUFFIXES
from userscore.keys import AS_OF, USER_ID
from userscore.persons import member_columns

RESTRICTED = "restricted"
_JSON = {"ignoreNullFields": "false", "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'", "dateFormat": "yyyy-MM-dd"}


@dataclass(frozen=True)
class DocumentColumns:
    """Which wide-table columns go where: tag ids served to every reader and restricted ones."""

    public_tags: tuple[str, ...]
    restricted_tags: tuple[str, ...]


def document_columns(config: Config, present: Sequence[str]) -> DocumentColumns:
    """The dictionary's tags that the table has, split by sensitivity (dictionary order)."""
    have = set(present)
    tags = [(tag_id, spec.sensitivity) for tag_id, spec in config.tags.dictionary.items() if tag_id in have]
    return DocumentColumns(tuple(t for t, s in tags if s != RESTRICTED), tuple(t for t, s in tags if s == RESTRICTED))


def _group(names: Sequence[tuple[str, str]], present: set[str]) -> Column:
    """A struct of ``(key, column)`` pairs; a column the table lacks is a null of its key."""
    if not names:  # a struct needs a field: an empty group is an empty JSON object
        return F.create_map().cast("map<string,string>")
    return F.struct(*[(F.col(f"`{c}`") if c in present else F.lit(None)).alias(key) for key, c in names])


def document(config: Config, present: Sequence[str], columns: DocumentColumns) -> Column:
    """The JSON document of a wide-table row (see the module docstring)."""
    have = set(present)
    scoring = config.scoring
    targets = F.struct(
        *[
            _group([(s, out.column(s)) for s in TARGET_SUFFIXES], have).alias(target)
            for target, out in scoring.targets.items()
        ]
    )
    versions = [(target, out.column("model_version")) for target, out in scoring.targets.items()]
    parts = [
        F.col(USER_ID).alias(USER_ID),
        *[F.col(c).alias(c) for c in member_columns(present)],
        F.col(AS_OF).alias(AS_OF),
        F.col("scored_at").alias("scored_at"),
        _group([(c, c) for c in scoring.carry], have).alias("rfm"),
        targets.alias("scores"),
    ]
    if scoring.btyd.enabled:
        btyd = [(c, c) for c in config.btyd.scoring.columns] + [("model_version", BTYD_MODEL_VERSION)]
        parts.append(_group(btyd, have).alias("customer_base"))
        versions.append(("btyd", BTYD_MODEL_VERSION))
    parts += [
        _group([("value_score", "value_score"), ("grade", "grade"), ("reasons", "value_reasons")], have).alias("value"),
        _group([(t, t) for t in columns.public_tags], have).alias("tags"),
        _group(versions, have).alias("model_versions"),
    ]
    return F.to_json(F.struct(*parts), _JSON)


def restricted(columns: DocumentColumns) -> Column:
    """The restricted tags of a row as one JSON object (``{}`` when the dictionary marks none)."""
    if not columns.restricted_tags:
        return F.lit("{}")
    return F.to_json(F.struct(*[F.col(f"`{t}`").alias(t) for t in columns.restricted_tags]), _JSON)
