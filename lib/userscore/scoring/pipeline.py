"""Score one snapshot end to end: champions -> the fused plan over features D -> three tables.

The scores DataFrame is ONE plan over one scan of the features partition. It is persisted
(MEMORY_AND_DISK) once computed because three writes read it (scores, wide table, audiences): the
features are read and the models applied once, not three times. Everything that can fail on input
(missing champion, missing columns, empty partition) fails before the first write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog, WriteResult
from userscore.config import Config
from userscore.config.btyd import P_ALIVE
from userscore.config.campaigns import UPLIFT_TIERS
from userscore.config.scoring import ScoringConfig, UpliftOutput
from userscore.errors import InputError
from userscore.keys import KEY_COLUMNS
from userscore.privacy.consent import read_consents
from userscore.scoring.customer_base import CustomerBase, load_customer_base
from userscore.scoring.fuse import fused_scores
from userscore.scoring.models import Champions, load_champions, logical_scored_at
from userscore.scoring.writer import AS_OF, AudienceConsent, write_outputs
from userscore.tags import TagDictionary, load_dictionary, validate_rule

_EXAMPLES = 3
# The summary's count of users without an uplift tier: outside the type's eligibility rule.
NOT_ELIGIBLE = "not_eligible"


@dataclass
class ScoreOutcome:
    """What one scoring run computed and wrote, for the job summary."""

    as_of: dt.date
    scored_at: dt.datetime
    rows: int
    champions: Champions
    customer_base: CustomerBase | None
    writes: list[WriteResult]
    distribution: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)


def latest_snapshot(catalog: Catalog, table: str) -> dt.date:
    """The newest as_of_date of the features table (a partition-column aggregate)."""
    latest = catalog.read(table).agg(F.max(AS_OF)).first()[0]
    if latest is None:
        raise InputError(f"{table} has no snapshot: run `userscore features --as-of D` first")
    return latest


def required_feature_columns(config: Config) -> set[str]:
    """Feature columns the scores, tags, segments and uplift eligibility read (model inputs are checked by
    the models)."""
    from userscore.config.scoring import known_feature_columns

    features = set(known_feature_columns(config.features))
    scoring = config.scoring
    referenced = {*KEY_COLUMNS, *scoring.carry, *scoring.value_score.rule}
    known = [*features, *scoring.output_columns(config.btyd_score_columns()), *config.tags.dictionary]
    for tag in config.tags.dictionary.values():
        d = tag.definition
        referenced |= validate_rule(d.rule, known) if d.rule is not None else {d.column}
    for family in config.segments.families.values():
        for segment in family.segments.values():
            referenced |= validate_rule(segment.rule, known) | ({segment.rank_by} if segment.ranked else set())
    for output in scoring.uplift.values():
        if output.eligible is not None:
            referenced |= validate_rule(output.eligible, known)
    return referenced & features


def read_features(catalog: Catalog, config: Config, as_of: dt.date) -> DataFrame:
    """The features partition D (lazy), checked for the columns scoring needs."""
    table = config.scoring.features_table
    features = catalog.read(table, where=F.col(AS_OF) == F.lit(as_of))
    missing = sorted(required_feature_columns(config) - set(features.columns))
    if missing:
        raise InputError(f"{table} lacks columns {missing} that scores, tags, segments or uplift eligibility use")
    return features


def audience_consent(catalog: Catalog, config: Config) -> AudienceConsent | None:
    """The consent audiences must honour (None when consent.required lists no purpose for them)."""
    consents = read_consents(catalog, config.consent, "audiences")
    if consents is None:
        return None
    return AudienceConsent(consents, config.consent.purposes("audiences"), config.consent.missing)


def score_snapshot(
    catalog: Catalog,
    config: Config,
    as_of: dt.date,
    scored_at: dt.datetime | None = None,
    logger: logging.Logger | None = None,
    show_examples: bool = False,
) -> ScoreOutcome:
    """Load the champions, compute the fused scores of snapshot ``as_of`` and write the output tables.

    ``show_examples`` keeps a few users' rows for the summary; off by default, so job logs hold no
    personal data."""
    logger = logger or logging.getLogger("userscore.score")
    scoring = config.scoring
    dictionary = load_dictionary(config.tags)
    champions = load_champions(
        scoring.targets, config.models.tracking, config.models.promotion.alias, Path(config.root), scoring.uplift
    )
    for name in champions.missing_optional:
        logger.warning("optional model %s has no champion: its columns are null", name)
    customer_base = load_customer_base(catalog, config, as_of, logger)
    consent = audience_consent(catalog, config) if config.segments.families else None
    features = read_features(catalog, config, as_of)
    at = scored_at or logical_scored_at(as_of, champions)
    scores = fused_scores(features, champions, scoring, dictionary, at, customer_base=customer_base)
    scores = scores.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = scores.count()
        if rows == 0:
            raise InputError(
                f"{scoring.features_table} has no rows for as_of_date {as_of}: run `userscore features --as-of {as_of}`"
            )
        logger.info("scored %d users of snapshot %s", rows, as_of)
        writes = write_outputs(catalog, scores, scoring, config.segments, as_of, consent)
        outcome = ScoreOutcome(as_of, at, rows, champions, customer_base, writes)
        outcome.distribution = distribution(scores, scoring, [c.campaign_type for c in champions.uplift])
        if show_examples:
            outcome.examples = examples(scores, scoring, dictionary)
    finally:
        scores.unpersist()
    outcome.locations = {w.table: catalog.location(w.table) for w in writes}
    return outcome


def distribution(
    scores: DataFrame, scoring: ScoringConfig, uplift_types: Sequence[str] = ()
) -> dict[str, list[tuple[str, int]]]:
    """Users per tier of each target, per uplift tier of each of ``uplift_types`` (those with a champion;
    ``not_eligible``: users outside its eligibility rule, no tier) and per grade, from one aggregation
    (bounded by band count)."""
    bands = {o.column("tier"): [b.name for b in o.tiers] for o in scoring.targets.values()}
    bands |= {UpliftOutput.column(t, "uplift_tier"): [*UPLIFT_TIERS, NOT_ELIGIBLE] for t in uplift_types}
    bands["grade"] = [b.name for b in scoring.grades]
    aggregates = [
        F.count(F.when(F.col(column).isNull() if name == NOT_ELIGIBLE else F.col(column) == F.lit(name), 1)).alias(
            f"{column}|{name}"
        )
        for column, names in bands.items()
        for name in names
    ]
    row = scores.agg(*aggregates).first()
    return {column: [(name, int(row[f"{column}|{name}"])) for name in names] for column, names in bands.items()}


def examples(scores: DataFrame, scoring: ScoringConfig, dictionary: TagDictionary) -> list[dict]:
    """A few users to show (a top grade, a high churn risk, a low grade): bounded takes, not a collect."""
    first_grade, last_grade = scoring.grades[0].name, scoring.grades[-1].name
    conditions = [F.col("grade") == first_grade]
    conditions += [F.col(o.column("tier")) == o.tiers[0].name for o in list(scoring.targets.values())[:1]]
    conditions.append(F.col("grade") == last_grade)
    picked: list[dict] = []
    for condition in conditions[:_EXAMPLES]:
        seen = [p["user_id"] for p in picked]
        candidates = scores.where(condition & ~F.col("user_id").isin(seen)) if seen else scores.where(condition)
        row = candidates.orderBy("user_id").limit(1).collect()
        if row:
            picked.append(row[0].asDict())
    return picked


def summary_lines(outcome: ScoreOutcome, scoring: ScoringConfig, dictionary: TagDictionary) -> list[str]:
    """Distribution of tiers and grades, example users with tags and reasons, and where the tables are."""
    lines = [f"snapshot {outcome.as_of}: {outcome.rows:,} users, scored_at {outcome.scored_at:%Y-%m-%d %H:%M:%S} UTC"]
    lines.append("champions: " + ", ".join(f"{c.model_name} v{c.version}" for c in outcome.champions.all))
    base = outcome.customer_base
    if base is not None:
        model = f"{base.model_name} v{base.version}" if base.model is not None else "no champion (columns null)"
        lines.append(f"customer base (BTYD): {model}")
    if outcome.champions.missing_optional:
        lines.append("optional, no champion (columns null): " + ", ".join(outcome.champions.missing_optional))
    for column, counts in outcome.distribution.items():
        total = max(1, sum(n for _, n in counts))
        lines.append(f"{column + ':':<17} " + "  ".join(f"{name} {n:,} ({100 * n / total:.1f}%)" for name, n in counts))
    lines.append("examples:" if outcome.examples else "examples: not shown (per-user rows; --show-examples)")
    for row in outcome.examples:
        lines.append(
            f"  {row['user_id']}: grade {row['grade']}, value {row['value_score']:.2f} <- {row['value_reasons'] or '-'}"
        )
        for output in scoring.targets.values():
            p, tier, why = (row[output.column(s)] for s in ("probability", "tier", "reasons"))
            if p is not None:
                lines.append(f"    {output.prefix}: p={p:.3f} {tier} <- {why or '-'}")
        for champion in outcome.champions.uplift:
            uplift, tier, margin, why = (
                row[champion.column(s)] for s in ("uplift", "uplift_tier", "net_margin", "uplift_reasons")
            )
            if uplift is None:
                lines.append(f"    {champion.campaign_type}: not eligible")
                continue
            lines.append(
                f"    {champion.campaign_type}: uplift {uplift:+.3f} {tier}, net margin {margin:+.2f} <- {why or '-'}"
            )
        if base is not None and base.model is not None and row[P_ALIVE] is not None:
            clv = base.settings.columns[-1]
            lines.append(f"    customer base: p_alive={row[P_ALIVE]:.3f}, {clv}={row[clv]:.2f}")
        flags = [t.id for t in dictionary if t.kind == "rule" and row[t.id]]
        values = [f"{t.id}={row[t.id]}" for t in dictionary if t.kind != "rule"]
        lines.append(f"    tags: {', '.join(flags) or '-'} | {', '.join(values)}")
    lines.append("tables:")
    lines += [f"  {name:<26} {where}" for name, where in outcome.locations.items()]
    return lines
