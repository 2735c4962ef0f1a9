"""The training reference of a champion version: its own validation snapshot V (run tag
``validation_snapshot``) scored by that version. Computed once per (target, version) and kept in
monitor.reference: the score's statistics and tier shares, and the PSI bins (edges at V's quantiles, row
counts) of the score and of every model feature.

The score at V comes from scores.user_scores when partition V was scored by this very version; otherwise
the features partition V is scored now by the version loaded from the registry (``source = rescored``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config.monitoring import MonitorConfig
from userscore.config.scoring import TargetOutput
from userscore.models.registry import RunRecord
from userscore.monitoring.ladder import AS_OF, Watched, ladder
from userscore.monitoring.models import Registry
from userscore.monitoring.psi import Binning, binned_counts, fit_binnings


@dataclass(frozen=True)
class Reference:
    """A version's reference: score cells ((kind, key) -> value), binnings and counts per column."""

    target: str
    version: str
    date: dt.date
    source: str
    score: str
    cells: Mapping[tuple[str, str], float | None]
    binnings: Mapping[str, Binning]
    counts: Mapping[str, Mapping[str, int]]

    @property
    def rows(self) -> int:
        return sum(self.counts.get(self.score, {}).values())


def load_reference(catalog: Catalog, table: str, target: str, version: str, score: str) -> Reference | None:
    """The stored reference of (target, version), or None (a bounded read: bins x columns rows)."""
    if not catalog.exists(table):
        return None
    rows = catalog.read(table).where((F.col("target") == target) & (F.col("model_version") == version)).collect()
    if not rows:
        return None
    cells = {(r["kind"], r["key"]): r["value"] for r in rows if r["kind"] in ("stat", "band")}
    counts: dict[str, dict[str, int]] = {}
    numeric: dict[str, set[float]] = {}
    categorical: set[str] = set()
    for r in rows:
        if r["kind"] not in ("bin", "category"):
            continue
        counts.setdefault(r["name"], {})[r["key"]] = int(r["rows"])
        if r["kind"] == "category":
            categorical.add(r["name"])
        elif r["key"] != "null":  # every edge is some bin's lower or upper bound (empty bins are not stored)
            numeric.setdefault(r["name"], set()).update(e for e in (r["lower"], r["upper"]) if e is not None)
    binnings = {c: Binning(c, categorical=True) for c in categorical}
    for column, edges in numeric.items():
        binnings[column] = Binning(column, tuple(sorted(edges)))
    for column in counts:
        binnings.setdefault(column, Binning(column))  # only missing values at V: no edges
    first = rows[0]
    return Reference(target, version, first["as_of_date"], first["source"], score, cells, binnings, counts)


def reference_rows(ref: Reference) -> list[dict]:
    """Rows of monitor.reference for ``ref``."""
    base = {"as_of_date": ref.date, "target": ref.target, "model_version": ref.version, "source": ref.source}
    rows = [
        {**base, "kind": kind, "name": ref.score, "key": key, "lower": None, "upper": None, "value": value,
         "rows": None}
        for (kind, key), value in ref.cells.items()
    ]  # fmt: skip
    for column, counts in ref.counts.items():
        binning = ref.binnings[column]
        total = sum(counts.values())
        for key, n in sorted(counts.items()):
            lower, upper = binning.bounds(key)
            rows.append(
                {**base, "kind": "category" if binning.categorical else "bin", "name": column, "key": key,
                 "lower": lower, "upper": upper, "value": n / total if total else None, "rows": n}
            )  # fmt: skip
    return rows


def build_reference(
    catalog: Catalog,
    monitor: MonitorConfig,
    info: RunRecord,
    output: TargetOutput,
    registry: Registry | None,
    logger: logging.Logger,
) -> Reference | None:
    """Compute the reference of ``info`` (None, with a warning, when its validation snapshot is gone),
    cut into the target's risk tiers (``output.tiers``)."""
    v = info.validation_date
    if v is None:
        logger.warning("%s v%s: no validation date in its run record: no training reference", info.model_name,
                       info.version)  # fmt: skip
        return None
    p, tier, version_col = output.column("probability"), output.column("tier"), output.column("model_version")
    features = (
        catalog.read(monitor.features_table, where=F.col(AS_OF) == F.lit(v))
        if catalog.exists(monitor.features_table)
        else None
    )
    scored, source = None, "scores"
    if catalog.exists(monitor.scores_table):
        candidate = catalog.read(monitor.scores_table, where=F.col(AS_OF) == F.lit(v))
        if version_col in candidate.columns:
            candidate = candidate.where(F.col(version_col) == F.lit(info.version)).select(AS_OF, p, tier)
            if candidate.limit(1).count():
                scored = candidate
    if scored is None:
        if features is None or not features.limit(1).count() or registry is None:
            logger.warning("%s v%s: validation snapshot %s neither scored by it nor in the features table: "
                           "no training reference", info.model_name, info.version, v)  # fmt: skip
            return None
        from userscore.scoring.models import PREDICTION
        from userscore.scoring.tiers import band

        model = registry.load(info)
        scored = (
            model.transform(features)
            .select(AS_OF, F.col(PREDICTION).cast("double").alias(p))
            .withColumn(tier, band(F.col(p), output.tiers))
        )
        source = "rescored"
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        psi = monitor.psi
        watched = Watched(p, tier, tuple(b.name for b in output.tiers), info.target)
        cells = ladder(scored, [watched], monitor.quantiles, psi.quantile_relative_error).get(v, {}).get(p, {})
        binnings = fit_binnings(scored, [p], [], psi.bins, psi.quantile_relative_error)
        counts = {k[-1]: c for k, c in binned_counts(scored, list(binnings.values())).items()}
    finally:
        scored.unpersist()
    if features is not None:
        numeric = [c for c in info.numeric_features if c in features.columns]
        categorical = [c for c in info.categorical_features if c in features.columns]
        feature_binnings = fit_binnings(features, numeric, categorical, psi.bins, psi.quantile_relative_error)
        binnings |= feature_binnings
        counts |= {k[-1]: c for k, c in binned_counts(features, list(feature_binnings.values())).items()}
    return Reference(
        info.target, info.version, v, source, p, {k: val for k, (val, _) in cells.items()}, binnings, counts
    )


def ensure_references(
    catalog: Catalog,
    monitor: MonitorConfig,
    infos: Mapping[str, RunRecord],
    outputs: Mapping[str, TargetOutput],
    registry: Registry | None,
    logger: logging.Logger,
) -> tuple[dict[str, Reference], list]:
    """The reference of every champion: read from monitor.reference, or built and written once."""
    table = monitor.tables.reference
    refs: dict[str, Reference] = {}
    writes = []
    for target, info in infos.items():
        score = outputs[target].column("probability")
        ref = load_reference(catalog, table, target, info.version, score)
        if ref is None:
            ref = build_reference(catalog, monitor, info, outputs[target], registry, logger)
            if ref is None:
                continue
            frame = reference_frame(catalog, table, ref)
            writes.append(catalog.overwrite_where(table, frame, {"target": target, "model_version": info.version}))
        refs[target] = ref
    return refs, writes


def reference_frame(catalog: Catalog, table: str, ref: Reference) -> DataFrame:
    """The rows of ``ref`` for the reference table. Bin edges are data values (quantiles) and are stored
    unrounded: a value equal to an edge belongs to the bin below it, and an edge rounded down would move
    it up on every run that reads the reference back."""
    return rows_frame(catalog, table, reference_rows(ref), exact=("lower", "upper"))


def rows_frame(catalog: Catalog, table: str, rows: Sequence[Mapping], exact: Collection[str] = ()) -> DataFrame:
    """A small frame of driver-side metric rows in the declared schema of ``table``; doubles rounded to
    12 decimals except in the ``exact`` columns."""
    from pyspark.sql import types as T

    from userscore.catalog import declared_schema

    schema = declared_schema(catalog.spec(table))

    def coerce(value, data_type, name):
        if value is None:
            return None
        if isinstance(data_type, T.DoubleType):
            # Aggregated sums differ in the last bits with partitioning: 12 decimals keep re-runs identical.
            return float(value) if name in exact else round(float(value), 12)
        if isinstance(data_type, T.LongType | T.IntegerType):
            return int(value)
        return value

    data = [tuple(coerce(r.get(f.name), f.dataType, f.name) for f in schema.fields) for r in rows]
    return catalog.spark.createDataFrame(data, schema)
