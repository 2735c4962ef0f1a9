"""The training set of one target: matured snapshots, labels joined, time split, calibration slice and
stratified sampling.

A snapshot D is usable when its whole label window has been observed: D + horizon <= cut-off. The
newest usable snapshot validates; older ones train; a hash-chosen share of users is held out of
training as the calibration slice. Sampling is a deterministic hash of (user_id, as_of_date)
compared with a per-(split, class) fraction, so re-runs select the same rows, class ratios are kept
(or capped), and the driver only ever sees a handful of counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from userscore.config.models import FeatureSelection, TargetConfig
from userscore.config.params import SampleParams, SplitParams
from userscore.errors import InputError
from userscore.hashing import uniform_hash
from userscore.keys import KEY_COLUMNS, USER_ID
from userscore.models.targets import LABEL, Silver, labels
from userscore.persons import PersonMaps

SPLIT = "split"
WEIGHT = "weight"
TRAIN, CALIBRATION, VALIDATION = "train", "calibration", "validation"
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)


@dataclass(frozen=True)
class SnapshotSplit:
    """Which snapshots train, calibrate and validate, and the cut-off that made them usable."""

    train: tuple[dt.date, ...]
    calibration: tuple[dt.date, ...]
    validation: dt.date
    cutoff: dt.datetime
    unmatured: tuple[dt.date, ...] = ()

    @property
    def used(self) -> tuple[dt.date, ...]:
        return (*self.train, self.validation)


@dataclass(frozen=True)
class FeatureColumns:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)


def aggregate_example(rows: DataFrame, features: FeatureColumns) -> DataFrame:
    """One synthetic row of model inputs for MLflow's input example and signature, from aggregates only.

    Numbers are means (a median would be one user's value) and categories the most frequent value (ties to
    the smallest), so no user's row reaches an artifact, which no table deletion could erase later.
    """
    return rows.agg(
        *[F.avg(c).alias(c) for c in features.numeric],
        *[F.mode(c, deterministic=True).alias(c) for c in features.categorical],
    )


def pandas_example(example: DataFrame, features: FeatureColumns):
    """``example`` (from :func:`aggregate_example`) as the pandas frame MLflow's signature is inferred from:
    numbers as float64, since an integer column with a missing value arrives as float."""
    frame = example.toPandas()
    numeric = list(features.numeric)
    frame[numeric] = frame[numeric].astype("float64")
    return frame


@dataclass(frozen=True)
class TrainingSet:
    """Sampled, labelled feature rows (column ``split``) and how they were chosen."""

    rows: DataFrame
    snapshots: SnapshotSplit
    features: FeatureColumns
    counts: Mapping[tuple[str, int], int]
    fractions: Mapping[tuple[str, int], float]
    class_weights: Mapping[int, float] = field(default_factory=dict)

    def part(self, split: str) -> DataFrame:
        return self.rows.where(F.col(SPLIT) == split)


# -- snapshots -------------------------------------------------------------------------------------------
def matured(dates: Sequence[dt.date], horizon_days: int, cutoff: dt.datetime) -> list[dt.date]:
    """Snapshots whose label window (D, D + horizon] ends at or before the cut-off."""
    return sorted(d for d in dates if dt.datetime.combine(d + dt.timedelta(days=horizon_days), dt.time()) <= cutoff)


def split_snapshots(
    dates: Sequence[dt.date], horizon_days: int, cutoff: dt.datetime, split: SplitParams
) -> SnapshotSplit:
    """Newest matured snapshot validates, older ones train (the newest ``max_train_snapshots``)."""
    usable = matured(dates, horizon_days, cutoff)
    if len(usable) < 2:
        raise InputError(
            f"need at least 2 feature snapshots whose {horizon_days}-day label window ends by the cut-off "
            f"{cutoff:%Y-%m-%d %H:%M}: found {[d.isoformat() for d in usable]} "
            f"of {sorted(d.isoformat() for d in dates)}; "
            "compute older feature snapshots or pass a later --cutoff"
        )
    train = usable[:-1]
    if split.max_train_snapshots:
        train = train[-split.max_train_snapshots :]
    calibration = train[-split.calibration_snapshots :] if split.calibration_snapshots else train
    unmatured = tuple(sorted(set(dates) - set(usable)))
    return SnapshotSplit(tuple(train), tuple(calibration), usable[-1], cutoff, unmatured)


# -- features --------------------------------------------------------------------------------------------
def feature_columns(schema: T.StructType, selection: FeatureSelection) -> FeatureColumns:
    """Numeric model inputs (``include`` or every numeric column, minus ``exclude``) and categoricals.

    An ``exclude`` entry ending in ``*`` is a prefix: it leaves out a whole family (``social_*``) and may
    match nothing (a config without that family); any other name must be a column of the snapshot."""
    types = {f.name: f.dataType for f in schema.fields}
    prefixes = tuple(e[:-1] for e in selection.exclude if e.endswith("*"))
    named = [e for e in selection.exclude if not e.endswith("*")]
    wanted = [*(selection.include or ()), *named, *selection.categorical]
    missing = sorted({c for c in wanted if c not in types})
    if missing:
        raise InputError(f"feature columns {missing} are not in the feature snapshot; it has {sorted(types)}")
    excluded = {*named, *(c for c in types if prefixes and c.startswith(prefixes))}
    candidates = selection.include or [c for c in types if c not in KEY_COLUMNS and c != LABEL]
    numeric = [c for c in candidates if c not in excluded and c not in selection.categorical]
    not_numeric = [c for c in numeric if not isinstance(types[c], _NUMERIC)]
    if selection.include and not_numeric:
        raise InputError(f"features.include lists non-numeric columns {not_numeric}: list them under categorical")
    numeric = [c for c in numeric if isinstance(types[c], _NUMERIC)]
    not_string = [c for c in selection.categorical if not isinstance(types[c], T.StringType)]
    if not_string:
        raise InputError(f"features.categorical must be string columns, got {not_string}")
    if not numeric and not selection.categorical:
        raise InputError("no model inputs: the feature snapshot has no numeric columns left after 'exclude'")
    return FeatureColumns(tuple(numeric), tuple(selection.categorical))


# -- split and sampling ----------------------------------------------------------------------------------
def with_split(df: DataFrame, snapshots: SnapshotSplit, split: SplitParams) -> DataFrame:
    """Add ``split``: validation (newest snapshot), calibration (held-out users in the calibration
    snapshots) or train; rows of held-out users outside the calibration snapshots are dropped."""
    held_out = uniform_hash(f"calibration-{split.seed}", USER_ID) < split.calibration_fraction
    date = F.col("as_of_date")
    column = (
        F.when(date == F.lit(snapshots.validation), F.lit(VALIDATION))
        .when(held_out & date.isin(list(snapshots.calibration)), F.lit(CALIBRATION))
        .when(~held_out & date.isin(list(snapshots.train)), F.lit(TRAIN))
    )
    return df.withColumn(SPLIT, column).where(F.col(SPLIT).isNotNull())


def class_fractions(counts: Mapping[int, int], max_rows: int, max_majority_ratio: float | None) -> dict[int, float]:
    """Per-class sampling fractions: cap the majority at ``max_majority_ratio`` minority rows each, then
    scale both classes down together to ``max_rows`` in total."""
    n0, n1 = counts.get(0, 0), counts.get(1, 0)
    keep = {0: float(n0), 1: float(n1)}
    if max_majority_ratio is not None and n0 and n1:
        major, minor = (0, 1) if n0 >= n1 else (1, 0)
        keep[major] = min(keep[major], max_majority_ratio * keep[minor])
    total = keep[0] + keep[1]
    scale = min(1.0, max_rows / total) if total else 1.0
    return {c: (keep[c] * scale / n if n else 0.0) for c, n in ((0, n0), (1, n1))}


def sampling_fractions(
    counts: Mapping[tuple[str, int], int], sample: SampleParams, split: SplitParams
) -> dict[tuple[str, int], float]:
    """Fractions per (split, class): stratified for training, uniform for calibration and validation
    (those must keep the true base rate)."""
    fractions: dict[tuple[str, int], float] = {}
    train = class_fractions({c: counts.get((TRAIN, c), 0) for c in (0, 1)}, sample.max_rows, sample.max_majority_ratio)
    fractions.update({(TRAIN, c): f for c, f in train.items()})
    for name, cap in ((CALIBRATION, split.calibration_max_rows), (VALIDATION, split.validation_max_rows)):
        total = counts.get((name, 0), 0) + counts.get((name, 1), 0)
        fraction = min(1.0, cap / total) if total else 0.0
        fractions.update({(name, c): fraction for c in (0, 1)})
    return fractions


def sample_rows(df: DataFrame, fractions: Mapping[tuple[str, int], float], seed: int) -> DataFrame:
    """Keep a row when its hash is below the fraction of its (split, label)."""
    fraction = F.lit(0.0)
    for (split, label), value in sorted(fractions.items()):
        fraction = F.when((F.col(SPLIT) == split) & (F.col(LABEL) == label), F.lit(value)).otherwise(fraction)
    return df.where(uniform_hash(f"sample-{seed}", *KEY_COLUMNS) < fraction)


def balanced_weights(counts: Mapping[int, float]) -> dict[int, float]:
    """Weights that give both classes equal total weight and keep the mean weight at 1."""
    total = sum(counts.values())
    return {c: (total / (2.0 * n) if n else 0.0) for c, n in counts.items()}


# -- the whole set ---------------------------------------------------------------------------------------
def latest_event_time(silver: Silver) -> dt.datetime | None:
    """The cut-off default: the newest order or event time in silver."""
    # Formatted by Spark in the session time zone (UTC): collecting a timestamp would convert it to the
    # Python process's local time instead.
    times = [
        silver[name].agg(F.date_format(F.max(column), "yyyy-MM-dd HH:mm:ss")).first()[0]
        for name, column in (("orders", "order_ts"), ("events", "event_ts"))
        if name in silver
    ]
    parsed = [dt.datetime.fromisoformat(t) for t in times if t is not None]
    return max(parsed) if parsed else None


def snapshot_dates(features: DataFrame) -> list[dt.date]:
    """The feature snapshots present (one row per partition reaches the driver)."""
    return sorted(r[0] for r in features.select("as_of_date").distinct().collect())


def training_set(
    features: DataFrame,
    silver: Silver,
    target: TargetConfig,
    cutoff: dt.datetime,
    dates: Sequence[dt.date],
    carry: Sequence[str] = (),
    persons: PersonMaps | None = None,
) -> TrainingSet:
    """Label every usable snapshot, split by time, sample, and join the feature rows (cached).

    Args:
        features: the feature snapshots (user_id, as_of_date, feature columns).
        silver: the silver inputs the target's rules read (see TargetConfig.inputs).
        cutoff: data is complete up to this time; snapshots with D + horizon after it are not used.
        dates: the snapshot dates present in ``features``.
        carry: feature columns the rows also keep without being model inputs (the baselines' columns).
        persons: with identity.resolve, the person maps the snapshots were keyed by (labels follow them).
    """
    columns = feature_columns(features.schema, target.features)
    snapshots = split_snapshots(dates, target.horizon_days, cutoff, target.split)
    # Only the snapshots used are read: the partition filter prunes the rest, so nothing from an
    # unmatured snapshot (or any other) reaches labels or rows.
    used = features.where(F.col("as_of_date").isin(list(snapshots.used)))
    # Narrow (keys + label + split) and cached: it is counted, then sampled, without re-reading silver.
    labelled = labels(used.select(*KEY_COLUMNS), target, silver, list(snapshots.used), persons).transform(
        with_split, snapshots, target.split
    )
    labelled = labelled.persist()
    counts = {(r[SPLIT], int(r[LABEL])): int(r["count"]) for r in labelled.groupBy(SPLIT, LABEL).count().collect()}
    missing = [s for s in (TRAIN, CALIBRATION, VALIDATION) if not any(counts.get((s, c)) for c in (0, 1))]
    if missing:
        labelled.unpersist()
        raise InputError(f"no labelled rows for {missing} (counts {counts}): too few users or snapshots")
    fractions = sampling_fractions(counts, target.sample, target.split)
    rows = sample_rows(labelled, fractions, target.sample.seed).join(
        used.select(*KEY_COLUMNS, *columns.all, *(c for c in dict.fromkeys(carry) if c not in columns.all)),
        list(KEY_COLUMNS),
    )
    weights: dict[int, float] = {}
    if target.sample.class_weight == "balanced":
        weights = balanced_weights({c: counts.get((TRAIN, c), 0) * fractions[(TRAIN, c)] for c in (0, 1)})
    weight = F.lit(1.0)
    for c, w in weights.items():
        weight = F.when((F.col(SPLIT) == TRAIN) & (F.col(LABEL) == c), F.lit(w)).otherwise(weight)
    rows = rows.withColumn(WEIGHT, weight).persist()
    rows.count()
    labelled.unpersist()
    return TrainingSet(rows, snapshots, columns, counts, fractions, weights)
