"""What a snapshot's features take from the whole population at D, published so a few users can be
rescored later exactly as the snapshot scored everyone.

Three feature families compare a user with everyone registered at D: the RFM scores (quantile bins of
recency, frequency and monetary value over the buyers), the interest lifts (each category's share of all
users' affinity) and the customer-base columns (BG/NBD fitted on every buyer's purchase history). The
features job writes these with each snapshot: the bins to ``features.boundaries_table`` (their audit
table), the interest totals and the BG/NBD outcome to ``features.population_table``. The streaming rescoring
(userscore.stream) reads the latest ones at or before its date and recomputes the touched users' features
against them, without a pass over the population.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from userscore.btyd.bgnbd import BGNBDParams
from userscore.catalog import Catalog, declared_schema
from userscore.config.features import FeaturesConfig
from userscore.errors import InputError
from userscore.features.binning import ColumnBins
from userscore.features.customer_base import PublishedFit
from userscore.features.rfm import bin_specs
from userscore.keys import AS_OF

_PARAMS = ("r", "alpha", "a", "b")
_INTEREST = "interest:"
_BGNBD = "bgnbd:"
_FAILURE, _CUSTOMERS, _GROUPS = f"{_BGNBD}failure", f"{_BGNBD}customers", f"{_BGNBD}groups"


@dataclass(frozen=True)
class PopulationStats:
    """The population figures of snapshot ``as_of``: RFM bins (in rfm.bin_specs order), each preference
    category's affinity total (config order) and the BG/NBD outcome."""

    as_of: dt.date
    bins: tuple[ColumnBins, ...]
    interest_population: tuple[float, ...]
    customer_base: PublishedFit


def population_frame(catalog: Catalog, table: str, stats: PopulationStats, categories: Sequence[str]) -> DataFrame:
    """The rows of ``table`` (features.population_table) for a snapshot; its bins go to the boundaries table."""
    fit = stats.customer_base
    rows = [(f"{_INTEREST}{c}", float(v), None) for c, v in zip(categories, stats.interest_population, strict=True)]
    if fit.params is not None:
        rows += [(f"{_BGNBD}{p}", float(getattr(fit.params, p)), None) for p in _PARAMS]
    rows += [
        (_CUSTOMERS, float(fit.n_customers), None),
        (_GROUPS, float(fit.n_groups), None),
        (_FAILURE, None, fit.failure),
    ]
    schema = declared_schema(catalog.spec(table))
    return catalog.spark.createDataFrame([(stats.as_of, *row) for row in rows], schema)


def latest_published(catalog: Catalog, config: FeaturesConfig, as_of: dt.date) -> PopulationStats:
    """The population figures of the newest snapshot on or before ``as_of``; InputError when there is none
    or when it was computed under other categories or RFM columns than the config's."""
    hint = f"run `userscore features --as-of D` (D <= {as_of}) first"
    for table in (config.population_table, config.boundaries_table):
        if not catalog.exists(table):
            raise InputError(f"no published snapshot: {table} does not exist; {hint}")
    stats = catalog.read(config.population_table, where=F.col(AS_OF) <= F.lit(as_of))
    published = stats.agg(F.max(AS_OF)).first()[0]
    if published is None:
        raise InputError(f"no published snapshot on or before {as_of} in {config.population_table}; {hint}")
    rows = {r["statistic"]: r for r in stats.where(F.col(AS_OF) == F.lit(published)).collect()}
    categories = tuple(config.preference.categories)
    found = sorted(name[len(_INTEREST) :] for name in rows if name.startswith(_INTEREST))
    if found != sorted(categories):
        raise InputError(
            f"{config.population_table} of {published} has interest categories {found}, the config "
            f"{sorted(categories)}: re-run `userscore features --as-of {published}`"
        )
    totals = tuple(rows[f"{_INTEREST}{c}"]["value"] for c in categories)
    values = [rows[f"{_BGNBD}{p}"]["value"] if f"{_BGNBD}{p}" in rows else None for p in _PARAMS]
    params = BGNBDParams(*values) if all(v is not None for v in values) else None
    fit = PublishedFit(params, rows[_FAILURE]["detail"], rows[_CUSTOMERS]["value"], int(rows[_GROUPS]["value"]))
    return PopulationStats(published, _read_bins(catalog, config, published), totals, fit)


def _read_bins(catalog: Catalog, config: FeaturesConfig, as_of: dt.date) -> tuple[ColumnBins, ...]:
    """The RFM bins of snapshot ``as_of`` back from their audit rows (a few rows per scored column)."""
    rows = catalog.read(config.boundaries_table, where=F.col(AS_OF) == F.lit(as_of)).orderBy("feature", "bin")
    by_feature: dict[str, list] = {}
    for r in rows.collect():
        by_feature.setdefault(r["feature"], []).append(r)
    bins = []
    for spec in bin_specs(config.rfm):
        feature_rows = by_feature.get(spec.column)
        if not feature_rows:
            raise InputError(
                f"{config.boundaries_table} of {as_of} has no bins for {spec.column}: "
                f"re-run `userscore features --as-of {as_of}`"
            )
        bounds = tuple(r["upper_bound"] for r in feature_rows if r["upper_bound"] is not None)
        scores = tuple(r["score"] for r in feature_rows)
        bins.append(ColumnBins(spec.column, bounds, scores, feature_rows[0]["population"]))
    return tuple(bins)
