"""The score ladder: per watched score and snapshot, mean, spread and quantiles, and the share of users
per tier or grade. All snapshots asked for are summarised by ONE grouped aggregation (``percentile_approx``
for the quantiles); the driver receives one row per snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.config.monitoring import MonitorConfig
from userscore.config.scoring import ScoringConfig
from userscore.keys import AS_OF

STATS = ("mean", "std", "min", "max")


@dataclass(frozen=True)
class Watched:
    """A watched score column, its band column (tier/grade, ordered band names) and its target (if any)."""

    score: str
    band: str | None = None
    bands: tuple[str, ...] = ()
    target: str | None = None


def watched_scores(scoring: ScoringConfig, monitor: MonitorConfig) -> list[Watched]:
    """Every target's probability with its tier, then the configured extra scores (value_score with grade)."""
    out = [
        Watched(o.column("probability"), o.column("tier"), tuple(b.name for b in o.tiers), target)
        for target, o in scoring.targets.items()
    ]
    band_names = {"grade": tuple(b.name for b in scoring.grades)}
    band_names |= {o.column("tier"): tuple(b.name for b in o.tiers) for o in scoring.targets.values()}
    for score, band in monitor.scores.items():
        out.append(Watched(score, band, band_names.get(band, ()) if band else ()))
    return out


def quantile_key(q: float) -> str:
    """0.05 -> 'p05', 0.5 -> 'p50', 0.995 -> 'p99.5'."""
    pct = round(q * 100, 6)
    return f"p{int(pct):02d}" if pct == int(pct) else f"p{pct:g}"


# snapshot -> score -> (kind, key) -> (value, rows)
Ladder = dict[dt.date, dict[str, dict[tuple[str, str], tuple[float | None, int]]]]


def ladder(scores: DataFrame, watched: Sequence[Watched], quantiles: Sequence[float], relative_error: float) -> Ladder:
    """Statistics and band shares of every watched score, per as_of_date of ``scores``."""
    accuracy = max(1, int(round(1.0 / relative_error))) if relative_error > 0 else 1_000_000
    aggs = []
    present = [w for w in watched if w.score in scores.columns]
    for i, w in enumerate(present):
        x = F.col(f"`{w.score}`").cast("double")
        aggs += [
            F.count(x).alias(f"s{i}_n"),
            F.avg(x).alias(f"s{i}_mean"),
            F.stddev_pop(x).alias(f"s{i}_std"),
            F.min(x).alias(f"s{i}_min"),
            F.max(x).alias(f"s{i}_max"),
            F.percentile_approx(x, list(quantiles), accuracy).alias(f"s{i}_q"),
        ]
        if w.band and w.band in scores.columns:
            aggs += [F.count(F.when(F.col(w.band) == F.lit(b), 1)).alias(f"s{i}_b{j}") for j, b in enumerate(w.bands)]
    if not aggs:
        return {}
    out: Ladder = {}
    for row in scores.groupBy(AS_OF).agg(*aggs).collect():
        per_score: dict[str, dict[tuple[str, str], tuple[float | None, int]]] = {}
        for i, w in enumerate(present):
            n = int(row[f"s{i}_n"])
            if n == 0:  # not scored at this snapshot (e.g. an optional target without a champion)
                continue
            cells: dict[tuple[str, str], tuple[float | None, int]] = {
                ("stat", s): (_float(row[f"s{i}_{s}"]), n) for s in STATS
            }
            qs = row[f"s{i}_q"] or [None] * len(quantiles)
            cells |= {("stat", quantile_key(q)): (_float(v), n) for q, v in zip(quantiles, qs, strict=True)}
            if w.band and w.band in scores.columns:
                for j, b in enumerate(w.bands):
                    count = int(row[f"s{i}_b{j}"])
                    cells[("band", b)] = (count / n if n else None, count)
            per_score[w.score] = cells
        out[row[AS_OF]] = per_score
    return out


def _float(value) -> float | None:
    return None if value is None else float(value)


def ladder_rows(
    as_of: dt.date,
    current: Mapping[str, Mapping[tuple[str, str], tuple[float | None, int]]],
    previous_date: dt.date | None,
    previous: Mapping[str, Mapping[tuple[str, str], tuple[float | None, int]]],
    reference: Mapping[str, tuple[str, Mapping[tuple[str, str], float | None]]],
) -> list[dict]:
    """Rows of monitor.score_ladder for D: each statistic and band share with the previous snapshot's and
    the training reference's value (``reference``: score -> (model version, (kind, key) -> value))."""
    rows = []
    for score, cells in current.items():
        version, ref_cells = reference.get(score, (None, {}))
        for (kind, key), (value, count) in cells.items():
            prev = previous.get(score, {}).get((kind, key), (None, 0))[0]
            ref = ref_cells.get((kind, key))
            rows.append(
                {
                    "as_of_date": as_of,
                    "score": score,
                    "kind": kind,
                    "key": key,
                    "value": value,
                    "rows": count,
                    "previous_date": previous_date if previous.get(score) else None,
                    "previous_value": prev,
                    "change_vs_previous": _diff(value, prev),
                    "reference_version": version,
                    "reference_value": ref,
                    "change_vs_reference": _diff(value, ref),
                }
            )
    return rows


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b
