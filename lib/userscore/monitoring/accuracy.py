"""Realised accuracy of earlier scores: once snapshot S's label window (S, S + horizon] has passed, the
outcomes are labelled from silver with the training code (userscore.models.targets.labels: the same
population and label rules) and compared with the probabilities scored at S.

Per (snapshot, model version): AUC (exact, Spark's evaluator), predicted vs observed per decile of the
score (decile 1 = highest; cut points from ``percentile_approx`` per snapshot, so a score equal to a cut
point falls in the lower decile) and per tier (the tier's hit rate). Two aggregations and one AUC job per
snapshot; only cut points and cell counts reach the driver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config import Config
from userscore.config.models import TargetConfig
from userscore.errors import InputError
from userscore.keys import AS_OF, KEY_COLUMNS, USER_ID
from userscore.models.dataset import latest_event_time
from userscore.models.evaluation import area_under
from userscore.models.registry import RunRecord
from userscore.models.targets import LABEL, Silver, labels
from userscore.monitoring.models import Registry
from userscore.persons import PersonMaps, person_maps

DECILES = [i / 10 for i in range(1, 10)]
P, TIER, VERSION = "_p", "_tier", "_version"


def matured_snapshots(
    dates: Sequence[dt.date], as_of: dt.date, horizon_days: int, cutoff: dt.datetime, limit: int
) -> list[dt.date]:
    """Snapshots before ``as_of`` whose label window ends by ``cutoff``: the newest ``limit``, oldest first."""
    ok = sorted(
        d for d in dates if d < as_of and dt.datetime.combine(d + dt.timedelta(days=horizon_days), dt.time()) <= cutoff
    )
    return ok[-limit:]


def decile(score: Column, cuts: Sequence[float]) -> Column:
    """10 - #(cut points strictly below the score): decile 1 holds the highest scores."""
    return F.lit(10) - sum(((score > F.lit(c)).cast("int") for c in cuts), F.lit(0))


def realised_accuracy(
    scored: DataFrame,
    target: TargetConfig,
    silver: Silver,
    dates: Sequence[dt.date],
    tiers: Sequence[str],
    relative_error: float = 1e-3,
    persons: PersonMaps | None = None,
) -> list[dict]:
    """Accuracy rows (without as_of_date and training AUC) for ``scored``: user_id, as_of_date and the
    columns ``_p`` (probability), ``_tier`` and ``_version`` of the snapshots in ``dates``; ``persons``: the
    person maps the snapshots were keyed by (identity.resolve), which their outcomes follow."""
    if not dates:
        return []
    scored = scored.where(F.col("as_of_date").isin(list(dates)) & F.col(P).isNotNull())
    outcomes = labels(scored.select(*KEY_COLUMNS), target, silver, list(dates), persons)
    data = (
        scored.join(outcomes, list(KEY_COLUMNS))
        .select("as_of_date", F.col(P).cast("double").alias(P), TIER, VERSION, F.col(LABEL).cast("double").alias(LABEL))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        accuracy = max(1, int(round(1.0 / relative_error))) if relative_error > 0 else 1_000_000
        cut_rows = data.groupBy("as_of_date").agg(F.percentile_approx(P, DECILES, accuracy).alias("c")).collect()
        cuts = {r["as_of_date"]: [float(c) for c in r["c"]] for r in cut_rows}
        which = F.lit(None).cast("int")
        for d, c in cuts.items():
            which = F.when(F.col("as_of_date") == F.lit(d), decile(F.col(P), c)).otherwise(which)
        cells = (
            data.groupBy("as_of_date", VERSION, which.alias("_d"), TIER)
            .agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos"), F.sum(P).alias("sum_p"))
            .collect()
        )
        groups = sorted({(r["as_of_date"], r[VERSION]) for r in cells})
        out = []
        for snapshot, version in groups:
            mine = [r for r in cells if r["as_of_date"] == snapshot and r[VERSION] == version]
            n = sum(int(r["n"]) for r in mine)
            pos = sum(int(r["pos"]) for r in mine)
            auc = None
            if 0 < pos < n:
                part = data.where((F.col("as_of_date") == F.lit(snapshot)) & (F.col(VERSION) == F.lit(version)))
                auc = area_under(part, P, LABEL, "areaUnderROC")
            base = pos / n if n else None
            common = {"target_snapshot": snapshot, "model_version": version}
            out.append(_row(common, "overall", "all", mine, base, auc))
            for d in range(1, 11):
                out.append(_row(common, "decile", str(d), [r for r in mine if r["_d"] == d], base))
            for t in tiers:
                out.append(_row(common, "tier", t, [r for r in mine if r[TIER] == t], base))
        return out
    finally:
        data.unpersist()


def _row(common: dict, level: str, bucket: str, cells: list, base: float | None, auc: float | None = None) -> dict:
    n = sum(int(r["n"]) for r in cells)
    pos = sum(int(r["pos"]) for r in cells)
    sum_p = sum(float(r["sum_p"]) for r in cells)
    rate = pos / n if n else None
    return {
        "snapshot_date": common["target_snapshot"],
        "model_version": common["model_version"],
        "level": level,
        "bucket": bucket,
        "rows": n,
        "positives": pos,
        "mean_predicted": sum_p / n if n else None,
        "observed_rate": rate,
        "lift": rate / base if rate is not None and base else None,
        "auc": auc,
    }


def target_accuracy(
    catalog: Catalog,
    config: Config,
    scores: DataFrame,
    dates: Sequence[dt.date],
    as_of: dt.date,
    models: Mapping[str, RunRecord],
    registry: Registry | None,
) -> tuple[list[dict], list[str]]:
    """Realised accuracy at ``as_of`` of every scored target's matured snapshots, each overall row set
    against its model version's training AUC; and notes on the targets that could not be measured."""
    inputs = config.models.inputs
    tables = {"orders": inputs.orders, "events": inputs.events, "level_changes": inputs.level_changes}
    silver = {name: catalog.read(t) for name, t in tables.items() if catalog.exists(t)}
    if not silver:
        return [], ["no silver tables: no realised accuracy"]
    latest = latest_event_time(silver)
    cutoff = dt.datetime.combine(as_of, dt.time())
    cutoff = min(cutoff, latest) if latest is not None else cutoff
    rows, notes = [], []
    for target, output in config.scoring.targets.items():
        spec = config.models.targets.get(target)
        p, tier, version = (output.column(s) for s in ("probability", "tier", "model_version"))
        if spec is None or p not in scores.columns:
            continue
        missing = [i for i in spec.inputs() if i not in silver]
        if missing:
            notes.append(f"{target}: silver inputs {missing} missing: no realised accuracy")
            continue
        matured = matured_snapshots(dates, as_of, spec.horizon_days, cutoff, config.monitor.accuracy.max_snapshots)
        if not matured:
            notes.append(f"{target}: no scored snapshot has matured its {spec.horizon_days}-day horizon by {cutoff}")
            continue
        scored = scores.select(
            USER_ID,
            AS_OF,
            F.col(p).alias(P),
            F.col(tier).alias(TIER),
            F.coalesce(F.col(version).cast("string"), F.lit("")).alias(VERSION)
            if version in scores.columns
            else F.lit("").alias(VERSION),
        )
        tiers = [b.name for b in spec.tiers]
        identity = config.identity
        try:
            persons = person_maps(catalog, identity.person_map_table, matured) if identity.resolve else None
        except InputError as missing:  # the job has written its references: a note, not a failure halfway
            notes.append(f"{target}: {missing}: no realised accuracy")
            continue
        error = config.monitor.accuracy.quantile_relative_error
        found = realised_accuracy(scored, spec, silver, matured, tiers, error, persons)
        for r in found:
            info = models.get(target)
            if registry is not None and r["model_version"]:
                info = registry.version(target, r["model_version"]) or (
                    info if info and info.version == r["model_version"] else None
                )
            elif info is not None and info.version != r["model_version"]:
                info = None
            training = info.training_auc if info else None
            overall = r["level"] == "overall"
            r |= {
                "as_of_date": as_of,
                "target": target,
                "training_auc": training if overall else None,
                "auc_drop": (training - r["auc"])
                if overall and training is not None and r["auc"] is not None
                else None,
            }
        rows += found
    return rows, notes
