"""The whole configuration: one frozen object built from the layered YAML."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from userscore.config.analysis import AnalysisConfig
from userscore.config.analysis import reference_errors as analysis_reference_errors
from userscore.config.btyd import MODEL_VERSION as BTYD_MODEL_VERSION
from userscore.config.btyd import BTYDConfig
from userscore.config.btyd import reference_errors as btyd_reference_errors
from userscore.config.campaigns import NUMERIC_TYPES, CampaignsConfig, eligibility_errors
from userscore.config.campaigns import reference_errors as campaigns_reference_errors
from userscore.config.consent import ConsentConfig
from userscore.config.consent import reference_errors as consent_reference_errors
from userscore.config.features import FeaturesConfig
from userscore.config.features import reference_errors as features_reference_errors
from userscore.config.generate import GenerateConfig
from userscore.config.identity import IdentityConfig
from userscore.config.identity import reference_errors as identity_reference_errors
from userscore.config.ingest import IngestConfig, absent_source_errors
from userscore.config.ingest import reference_errors as ingest_reference_errors
from userscore.config.models import ModelsConfig
from userscore.config.models import reference_errors as models_reference_errors
from userscore.config.monitoring import MonitorConfig
from userscore.config.monitoring import reference_errors as monitor_reference_errors
from userscore.config.platform import CatalogConfig, ObservabilityConfig, SparkConfig
from userscore.config.privacy import PrivacyConfig
from userscore.config.scoring import ScoringConfig, known_feature_columns
from userscore.config.scoring import reference_errors as scoring_reference_errors
from userscore.config.segments import SegmentsConfig
from userscore.config.segments import reference_errors as segments_reference_errors
from userscore.config.serving import ServingConfig
from userscore.config.social import SocialConfig
from userscore.config.social import reference_errors as social_reference_errors
from userscore.config.stream import StreamConfig
from userscore.config.stream import reference_errors as stream_reference_errors
from userscore.config.tables import TableSpec, check_table_name
from userscore.config.tags import TagsConfig
from userscore.config.tags import reference_errors as tags_reference_errors
from userscore.config.typed import KeyPath, frozen

ReferenceError_ = tuple[KeyPath, str, str]


@frozen
class Config:
    """Parsed config. ``env`` and ``root`` are set by the loader, not by YAML files; every section comes
    from conf/base (a section missing there fails the load with the key named)."""

    env: str
    root: str
    tables: Mapping[str, TableSpec]
    spark: SparkConfig
    catalog: CatalogConfig
    observability: ObservabilityConfig
    generate: GenerateConfig
    ingest: IngestConfig
    features: FeaturesConfig
    models: ModelsConfig
    scoring: ScoringConfig
    tags: TagsConfig
    segments: SegmentsConfig
    consent: ConsentConfig
    btyd: BTYDConfig
    monitor: MonitorConfig
    privacy: PrivacyConfig
    analysis: AnalysisConfig
    serving: ServingConfig
    stream: StreamConfig
    identity: IdentityConfig
    social: SocialConfig
    campaigns: CampaignsConfig

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the project root (absolute paths pass through)."""
        path = Path(relative)
        return path if path.is_absolute() else Path(self.root) / path

    def reference_errors(self) -> Iterator[ReferenceError_]:
        """Every reference to an undefined table or column, as (key path, found, expected)."""
        for name in self.tables:
            problem = check_table_name(name)
            if problem:
                yield ("tables", name), repr(name), problem
        known = sorted(self.tables)
        for source_name, source in self.ingest.sources.items():
            at: KeyPath = ("ingest", "sources", source_name)
            if source.table not in self.tables:
                yield (*at, "table"), f"undefined table {source.table!r}", f"one of {known}"
                continue
            columns = self.tables[source.table].column_names
            referenced = [
                ("event_time", source.event_time),
                *(("user_reference", c) for c in source.user_columns),
                *(("distinct_columns", c) for c in source.distinct_columns),
                *(("unique_by.columns", c) for c in (source.unique_by.columns if source.unique_by else ())),
                *((f"unique_by.when.{c}", c) for c in (source.unique_by.when if source.unique_by else ())),
                *((f"references.{c}", c) for c in source.references),
                *((f"references.{c}.agree.{a}", a) for c, r in source.references.items() for a in r.agree),
                *((f"references.{c}.not_before.{t}", t) for c, r in source.references.items() for t in r.not_before),
                *((f"ranges.{c}", c) for c in source.ranges),
                *((f"allowed.{c}", c) for c in source.allowed),
                *((f"pii.{c}", target) for c, target in source.pii.items()),
            ]
            for key, column in referenced:
                if column is not None and column not in columns:
                    yield (
                        (*at, *key.split(".")),
                        f"undefined column {column!r} of {source.table}",
                        (f"one of {list(columns)}"),
                    )
        yield from ingest_reference_errors(self.ingest, self.tables)
        yield from absent_source_errors(self.ingest, self.features, self.models)
        yield from features_reference_errors(self.features, self.tables)
        yield from models_reference_errors(self.models, self.tables, known_feature_columns(self.features))
        yield from btyd_reference_errors(self.btyd, self.tables)
        yield from campaigns_reference_errors(self.campaigns, self.tables)
        for target in self.campaigns.uplift.propensity:
            if target not in self.models.targets:
                yield (
                    ("campaigns", "uplift", "propensity", target),
                    f"undefined target {target!r}",
                    f"one of {sorted(self.models.targets)}",
                )
        yield from eligibility_errors(self.campaigns, known_feature_columns(self.features))
        yield from monitor_reference_errors(self.monitor, self.tables)
        yield from consent_reference_errors(self.consent, self.tables)
        yield from analysis_reference_errors(self.analysis, self.tables, tuple(self.segments.families))
        yield from stream_reference_errors(self.stream, self.ingest.sources, self.tables)
        yield from self._graph_reference_errors()
        yield from self._scoring_reference_errors()

    def _graph_reference_errors(self) -> Iterator[ReferenceError_]:
        yield from identity_reference_errors(
            self.identity, self.tables, self._allowed(self.identity.links_table, "id_type")
        )
        yield from social_reference_errors(
            self.social, self.tables, self._allowed(self.social.edges_table, "edge_type")
        )

    def _allowed(self, table: str, column: str) -> tuple[str, ...] | None:
        """The values ingest admits in ``column`` of ``table`` (None: any; () when no source feeds it)."""
        feeding = [s for s in self.ingest.sources.values() if s.table == table]
        return feeding[0].allowed.get(column) if feeding else ()

    def with_scored_tiers(self) -> Config:
        """This config with each scored target carrying its risk tiers (``TargetOutput.tiers``, copied from
        its one tier definition, ``models.targets.<t>.tiers``; every scored target must be a model target)
        and each scored uplift type its tiers and contact cost (from ``campaigns.types.<t>``)."""
        targets = {t: replace(o, tiers=self.models.targets[t].tiers) for t, o in self.scoring.targets.items()}
        types = self.campaigns.types
        uplift = {
            t: replace(
                o, tiers=types[t].uplift.tiers, contact_cost=types[t].contact_cost, eligible=types[t].uplift.eligible
            )
            for t, o in self.scoring.uplift.items()
            if t in types and types[t].uplift is not None  # otherwise a reference error names it
        }
        scoring = replace(self.scoring, targets=MappingProxyType(targets), uplift=MappingProxyType(uplift))
        return replace(self, scoring=scoring)

    def btyd_score_columns(self) -> list[str]:
        """The customer-base columns the scoring stage writes (none when ``scoring.btyd.enabled`` is off)."""
        return [*self.btyd.scoring.columns, BTYD_MODEL_VERSION] if self.scoring.btyd.enabled else []

    def _scoring_reference_errors(self) -> Iterator[ReferenceError_]:
        # Tag and segment rules are checked against the columns a scores row has: features + scores (+ tags).
        if not (self.scoring.targets or self.tags.dictionary or self.segments.families):
            return
        features = known_feature_columns(self.features)
        btyd = self.btyd_score_columns()
        yield from scoring_reference_errors(
            self.scoring, self.tables, features, tuple(self.models.targets), self.campaigns, btyd
        )
        outputs = self.scoring.output_columns(btyd)
        yield from tags_reference_errors(self.tags, [*features, *outputs])
        # Segments are matched on the written score row: carried columns, scores and tags, not every feature;
        # they rank by the row's columns the scores table declares numeric.
        scores = self.tables.get(self.scoring.scores_table)
        declared = {c.name: c.type for c in scores.columns} if scores is not None else {}
        numeric = [c for c in outputs if declared.get(c) in NUMERIC_TYPES]
        yield from segments_reference_errors(self.segments, self.tables, [*outputs, *self.tags.dictionary], numeric)
