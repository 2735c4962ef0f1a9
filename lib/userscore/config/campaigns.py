"""Config section ``campaigns``: campaign feedback, lift against control (jobs/campaigns.py,
``userscore campaigns --as-of D``).

A campaign is the sends of one ``campaign_id``; its type (the first of ``types`` with a matching pattern)
says what counts as a conversion and for how long after the send. The unit of analysis is one user of one
campaign, in the arm of its sends (a user with sends in both arms is a treated user and a contaminated
control). Lift compares the treated with the control users of the same cell.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterator, Mapping
from dataclasses import field
from typing import Annotated, Literal

from userscore.config.models import FeatureSelection
from userscore.config.params import GBTParams
from userscore.config.rules import RuleError, validate_rule
from userscore.config.tables import TableSpec
from userscore.config.typed import Count, Days, KeyPath, NonNegative, Range, Share, frozen

# The silver columns the measurement reads (the contract with ingest), checked in reference_errors.
SEND_COLUMNS = (
    "send_id", "campaign_id", "user_id", "family", "segment", "arm", "channel", "offer_value", "contact_cost",
    "sent_at",
)  # fmt: skip
RESPONSE_COLUMNS = ("send_id", "campaign_id", "user_id", "response_type", "responded_at")
ORDER_COLUMNS = ("user_id", "order_ts", "amount", "is_refunded", "refunded_at")
EVENT_COLUMNS = ("user_id", "event_ts", "event_type")
# Dimensions a breakdown can name besides the score columns: columns of the unit (its first send).
SEND_DIMENSIONS = ("family", "segment", "channel")
DECILE_SUFFIX = "_decile"
NUMERIC_TYPES = ("double", "int", "long")
_Confidence = Annotated[float, Range(0.5, 1.0, high_open=True)]
_Uplift = Annotated[float, Range(-1.0, 1.0)]
# In the order a summary lists them: the ones worth contacting first.
UPLIFT_TIERS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")


@frozen
class UpliftTiers:
    """Cuts of a user's predicted uplift (P(convert | contacted) - P(convert | not contacted)):
    persuadable when uplift > persuadable_above, sleeping_dog when uplift < sleeping_dog_below; otherwise
    sure_thing when P(convert | not contacted) >= sure_thing_min (buys anyway), else lost_cause."""

    persuadable_above: _Uplift
    sleeping_dog_below: _Uplift
    sure_thing_min: Share

    def __post_init__(self):
        if self.sleeping_dog_below > self.persuadable_above:
            below, above = self.sleeping_dog_below, self.persuadable_above
            raise ValueError(f"sleeping_dog_below: at most persuadable_above ({above}), got {below}")


@frozen
class TypeUplift:
    """The uplift model of a campaign type (``userscore uplift``): its tiers in the scores, and who it is for.

    eligible: a rule over feature columns (conf rules' safe SQL subset) describing the users the type's
    campaigns are sent to, i.e. the population the model learned from (e.g. lapsing buyers for a win-back).
    Scored users outside it get null uplift columns, so they are neither tiered nor in an uplift audience or
    recommendation: the model says nothing about users unlike any it was trained on. None: every user.
    """

    tiers: UpliftTiers
    eligible: str | None = None


@frozen
class CampaignType:
    """What a campaign of this type is judged on.

    campaigns: campaign-id patterns (``fnmatch``: ``winback-*``) of the campaigns of this type.
    window_days: the attribution window: an order (or conversion event) in (sent_at, sent_at + window].
    conversion_events: behaviour event types that count as a conversion too (orders always count).
    margin_rate: the gross margin share of revenue (incremental margin = incremental revenue x margin_rate).
    contact_cost: what contacting one user costs when planning the next campaign (net margin, audiences,
    recommendations; the measurement reads each send's own cost).
    uplift: the type's uplift model (None: the type is measured, not modelled).
    """

    campaigns: tuple[str, ...]
    window_days: Days
    margin_rate: Share
    contact_cost: NonNegative
    conversion_events: tuple[str, ...] = ()
    description: str = ""
    uplift: TypeUplift | None = None

    def __post_init__(self):
        if not self.campaigns:
            raise ValueError("campaigns: at least one campaign-id pattern")

    def matches(self, campaign_id: str) -> bool:
        return any(fnmatch.fnmatchcase(campaign_id, p) for p in self.campaigns)


@frozen
class Breakdown:
    """The cells of one breakdown: a cell per combination of its dimensions' values."""

    dimensions: tuple[str, ...]
    description: str = ""


@frozen
class BootstrapConfig:
    """Percentile bootstrap of revenue per user: users are hashed into ``buckets`` random groups per cell
    and arm, each replicate weights every group with a Poisson(1) count (numpy, ``seed``), so only
    buckets x cells sums reach the driver whatever the number of sends."""

    replicates: Annotated[int, Range(100, 100_000)]
    buckets: Annotated[int, Range(20, 100_000)]
    seed: int


@frozen
class UpliftGate:
    """The champion gate of an uplift model, on the latest campaign of its type (out of time): its Qini
    coefficient must exceed the random ranking's on the same units by ``min_qini_gain`` (and be positive)."""

    min_qini_gain: _Uplift


@frozen
class Propensity:
    """A model target's champion probability at the send as a ranking (``higher``: highest first)."""

    direction: Literal["higher", "lower"]


@frozen
class UpliftTraining:
    """How ``userscore uplift`` trains each type's model (campaigns.types.<t>.uplift).

    Units are the users of the type's campaigns whose windows ended by the cut-off, with the feature
    snapshot at the send (the latest at or before the campaign date); the latest campaign validates, the
    earlier ones (at least ``min_train_campaigns``) train. T-learner: one GBT per arm; baseline: class
    transformation (one GBT of z = [converted] == [treated], arms weighted equally; uplift = 2 P(z) - 1).
    propensity: model targets whose champion's probability at the send is ranked too (``higher``: the
    highest first), the ranking by propensity the model must beat.
    """

    features: FeatureSelection
    gbt: GBTParams
    min_train_campaigns: Count
    propensity: Mapping[str, Propensity]
    gate: UpliftGate
    validation_table: str
    deciles: Annotated[int, Range(2, 100)]
    seed: int


@frozen
class Recommendations:
    """How many users to contact next, per campaign type with an uplift model (``table``): the users of the
    latest scores at or before D with ``<type>_uplift``, ranked by it (highest first), cut at every multiple
    of ``share_step`` of them, and "contact nobody" (share 0)."""

    table: str
    share_step: Annotated[float, Range(0.001, 1.0)]

    def __post_init__(self):
        if abs(round(1 / self.share_step) * self.share_step - 1) > 1e-9:
            raise ValueError(f"share_step: 1 / share_step a whole number (0.05, 0.1, 0.25), got {self.share_step}")

    @property
    def shares(self) -> tuple[float, ...]:
        """0 (contact nobody), share_step, 2 share_step, ..., 1."""
        steps = round(1 / self.share_step)
        return tuple(k / steps for k in range(steps + 1))


@frozen
class CampaignsConfig:
    """Campaign measurement.

    lookback_days: a run at D measures the campaigns whose first send is in [D - lookback_days, D).
    Outcomes are counted up to D: a window still open at D is measured so far (``window_complete`` false).
    min_group_size: a cell with fewer treated or control users is flagged ``min_sample`` (too small to
    read); a campaign whose control group has fewer users is unreadable.
    max_contamination_share: the largest share of control users who were contacted (a ``contact_responses``
    response, or a treatment send too) a campaign may have and still be read.
    response_types: the responses that make a treated user a responder (response rate).
    score_columns: columns of ``scores_table`` at the campaign's first send (its latest scored date at or
    before the send) that breakdowns can name; ``<column>_decile`` (1 = the highest tenth) for a numeric one.
    Each numeric one is also judged as a ranking of the campaign's uplift (``ranking_table``: Qini
    coefficient, uplift AUC, uplift at ``uplift_at_k``).
    breakdowns: name -> its dimensions (``family``, ``segment``, ``channel``, a score column, or
    ``<score column>_decile``); ``all`` (the whole campaign) is always measured; an overlay drops one with
    ``<name>: null``.
    recommendations: the audience size that maximises the expected net margin, per type with an uplift model.
    """

    sends_table: str
    responses_table: str
    orders_table: str
    events_table: str
    scores_table: str
    lift_table: str
    ranking_table: str
    report_dir: str
    lookback_days: Days
    confidence: _Confidence
    min_group_size: Count
    max_contamination_share: Share
    response_types: tuple[str, ...]
    contact_responses: tuple[str, ...]
    bootstrap: BootstrapConfig
    uplift_at_k: Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)]
    types: Mapping[str, CampaignType]
    uplift: UpliftTraining
    recommendations: Recommendations
    score_columns: tuple[str, ...] = ()
    breakdowns: Mapping[str, Breakdown] = field(default_factory=dict)

    def __post_init__(self):
        if "all" in self.breakdowns:
            raise ValueError("breakdowns.all: the whole campaign, always measured as 'all'; name yours otherwise")
        known = self.dimensions
        for name, breakdown in self.breakdowns.items():
            dims = breakdown.dimensions
            unknown = [d for d in dims if d not in known]
            if not dims or unknown or len(set(dims)) != len(dims):
                raise ValueError(
                    f"breakdowns.{name}.dimensions: distinct dimensions among {list(known)}, got {list(dims)}"
                )

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every dimension a breakdown may name."""
        return (*SEND_DIMENSIONS, *self.score_columns, *(c + DECILE_SUFFIX for c in self.score_columns))

    @property
    def uplift_types(self) -> tuple[str, ...]:
        """The campaign types with an uplift model."""
        return tuple(name for name, t in self.types.items() if t.uplift is not None)

    def type_of(self, campaign_id: str) -> str | None:
        """The first campaign type whose patterns match ``campaign_id`` (None: no type)."""
        return next((name for name, t in self.types.items() if t.matches(campaign_id)), None)


def reference_errors(cfg: CampaignsConfig, tables: Mapping[str, TableSpec]) -> Iterator[tuple[KeyPath, str, str]]:
    """Tables and the columns the measurement reads and writes must be declared."""
    known = sorted(tables)
    read = (
        ("sends_table", SEND_COLUMNS),
        ("responses_table", RESPONSE_COLUMNS),
        ("orders_table", ORDER_COLUMNS),
        ("events_table", EVENT_COLUMNS),
        ("scores_table", ("user_id", "as_of_date", *cfg.score_columns)),
        ("lift_table", ()),
        ("ranking_table", ()),
        ("validation_table", ()),
        ("recommendations", ()),
    )
    nested = {
        "validation_table": (cfg.uplift.validation_table, ("campaigns", "uplift", "validation_table")),
        "recommendations": (cfg.recommendations.table, ("campaigns", "recommendations", "table")),
    }
    for key, columns in read:
        name, at = nested[key] if key in nested else (getattr(cfg, key), ("campaigns", key))
        if name not in tables:
            yield at, f"undefined table {name!r}", f"one of {known}"
            continue
        missing = [c for c in columns if c not in tables[name].column_names]
        if missing:
            at = "score_columns" if key == "scores_table" else key
            yield ("campaigns", at), f"columns {missing} not in {name}", f"columns of {name}"
    scores = tables.get(cfg.scores_table)
    for name, breakdown in cfg.breakdowns.items():
        for dim in breakdown.dimensions:
            column = dim.removesuffix(DECILE_SUFFIX)
            if dim == column or scores is None or column not in scores.column_names:
                continue
            kind = scores.column(column).type
            if kind not in NUMERIC_TYPES:
                yield (
                    ("campaigns", "breakdowns", name, "dimensions"),
                    f"{dim}: deciles of {column}, a {kind} column",
                    f"deciles of a numeric score column ({', '.join(NUMERIC_TYPES)})",
                )


def eligibility_errors(cfg: CampaignsConfig, feature_columns: Collection[str]) -> Iterator[tuple[KeyPath, str, str]]:
    """Each uplift type's ``eligible`` rule must be in the rules' safe subset, over feature columns."""
    for name, spec in cfg.types.items():
        if spec.uplift is None or spec.uplift.eligible is None:
            continue
        try:
            validate_rule(spec.uplift.eligible, feature_columns)
        except RuleError as exc:
            yield (
                ("campaigns", "types", name, "uplift", "eligible"),
                f"invalid eligibility rule for {name!r}: {exc}",
                "a rule over feature columns using literals, operators and whitelisted functions",
            )
