"""Drift: PSI of scores and model features at snapshot D vs the previous snapshot (bins at its quantiles)
and vs each champion's training reference (its stored bins). Spark counts the bins; the driver receives
bin counts only (features x bins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.catalog import Catalog
from userscore.config.monitoring import PsiConfig
from userscore.models.registry import RunRecord
from userscore.monitoring.ladder import AS_OF
from userscore.monitoring.psi import Binning, binned_counts, fit_binnings, psi
from userscore.monitoring.reference import Reference

# Drift ranks compare PSIs to this many decimals (see _psi_rows).
RANK_DIGITS = 9


def _psi_rows(
    kind: str,
    as_of: dt.date,
    counts: Mapping[tuple, Mapping[str, int]],
    baselines: Sequence[tuple[str, str, str, dt.date | None, str | None, Mapping[str, int]]],
    epsilon: float,
) -> list[dict]:
    """One drift row per (column, baseline); ``baselines``: (binning id, column, baseline, baseline date,
    target, baseline counts). Ranks PSI within each (baseline, target), largest first."""
    rows = []
    for binning_id, column, baseline, baseline_date, target, expected in baselines:
        actual = counts.get((as_of, binning_id), {})
        if not expected or not actual:
            continue
        rows.append(
            {
                "as_of_date": as_of,
                "kind": kind,
                "name": column,
                "baseline": baseline,
                "target": target or "",
                "baseline_date": baseline_date,
                "model_version": None,
                "psi": psi(expected, actual, epsilon),
                "bins": len(set(expected) | set(actual)),
                "rows": sum(actual.values()),
                "baseline_rows": sum(expected.values()),
            }
        )
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["baseline"], r["target"]), []).append(r)
    for group in groups.values():
        # Equal shares give PSIs equal up to the last bits of log() and of the summation order, which differ
        # between CPUs and runs: rank by PSI to RANK_DIGITS decimals, then by name, so ties rank the same
        # everywhere.
        for rank, r in enumerate(sorted(group, key=lambda r: (-round(r["psi"], RANK_DIGITS), r["name"])), start=1):
            r["rank"] = rank
    return rows


def _drift(
    kind: str,
    frame: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    numeric: Sequence[str],
    categorical: Sequence[str],
    references: Mapping[str, Reference],
    columns_of: Callable[[Reference], Sequence[str]],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of columns at ``as_of`` vs ``previous`` (bins at previous's quantiles) and vs each reference
    (its stored bins): one quantile job on the previous snapshot and ONE count job over both snapshots."""
    dates = [as_of] if previous is None else [as_of, previous]
    both = frame.where(F.col(AS_OF).isin(dates))
    binnings: list[Binning] = []
    baselines: list = []
    if previous is not None:
        prior = fit_binnings(both.where(F.col(AS_OF) == F.lit(previous)), numeric, categorical, cfg.bins,
                             cfg.quantile_relative_error)  # fmt: skip
        binnings += [b.renamed(f"previous|{c}") for c, b in prior.items()]
    for target, ref in references.items():
        for column in columns_of(ref):
            if column in ref.binnings and column in frame.columns:
                binnings.append(ref.binnings[column].renamed(f"reference|{target}|{column}"))
                baselines.append((f"reference|{target}|{column}", column, "reference", ref.date, target,
                                  ref.counts[column]))  # fmt: skip
    counts = binned_counts(both, binnings, by=[AS_OF])
    if previous is not None:
        for column in (*numeric, *categorical):
            key = f"previous|{column}"
            baselines.insert(0, (key, column, "previous", previous, None, counts.get((previous, key), {})))
    rows = _psi_rows(kind, as_of, counts, baselines, cfg.epsilon)
    for r in rows:
        if r["baseline"] == "reference":
            r["model_version"] = references[r["target"]].version
    return rows


def score_drift(
    scores: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    columns: Sequence[str],
    references: Mapping[str, Reference],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of every watched score vs the previous snapshot, and of each target's probability vs its reference."""
    present = [c for c in columns if c in scores.columns]
    return _drift("score", scores, as_of, previous, present, [], references, lambda r: [r.score], cfg)


def feature_drift(
    features: DataFrame,
    as_of: dt.date,
    previous: dt.date | None,
    numeric: Sequence[str],
    categorical: Sequence[str],
    references: Mapping[str, Reference],
    cfg: PsiConfig,
) -> list[dict]:
    """PSI of model features vs the previous snapshot and vs each champion's reference (its own inputs)."""

    def inputs(ref: Reference) -> list[str]:
        return [c for c in ref.binnings if c != ref.score]

    return _drift("feature", features, as_of, previous, numeric, categorical, references, inputs, cfg)


def model_features(models: Mapping[str, RunRecord], columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The numeric and categorical inputs of the champions that the features table has."""
    numeric = sorted({c for i in models.values() for c in i.numeric_features if c in columns})
    categorical = sorted({c for i in models.values() for c in i.categorical_features if c in columns})
    return numeric, categorical


def drift_history(catalog: Catalog, table: str, window: Sequence[dt.date]) -> list[dict]:
    """Drift rows of the monitored dates in the report window (earlier runs and this one)."""
    if not catalog.exists(table) or not window:
        return []
    cols = ["as_of_date", "kind", "name", "baseline", "target", "psi"]
    return [r.asDict() for r in catalog.read(table).where(F.col(AS_OF).isin(list(window))).select(*cols).collect()]
