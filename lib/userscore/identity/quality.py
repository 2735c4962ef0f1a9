"""How well a person map matches a known truth (the generator's): pairwise and per-person precision/recall."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class StitchingQuality:
    """Pairwise: over pairs of user ids, precision = share of the pairs put together that are one true
    person, recall = share of the true pairs put together. Per person, over true persons with several user
    ids: ``recovered`` = share stitched exactly (same user ids, nothing more); over stitched persons with
    several user ids: ``pure`` = share holding one true person only."""

    pair_precision: float | None
    pair_recall: float | None
    recovered: float | None
    pure: float | None
    true_multi: int
    stitched_multi: int

    def describe(self) -> str:
        def share(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.4f}"

        return (
            f"pairwise precision {share(self.pair_precision)}, recall {share(self.pair_recall)}; "
            f"{self.true_multi:,} true persons with several user ids, recovered exactly {share(self.recovered)}; "
            f"{self.stitched_multi:,} stitched persons with several user ids, pure {share(self.pure)}"
        )


def _pairs(n: F.Column) -> F.Column:
    return n * (n - 1) / 2


def stitching_quality(person_map: DataFrame, truth: DataFrame) -> StitchingQuality:
    """Compare ``person_map`` (user_id, person_id) with ``truth`` (user_id, true_person) on their common
    user ids; all aggregations, one row to the driver."""
    rows = person_map.select("user_id", "person_id").join(truth.select("user_id", "true_person"), "user_id")
    cells = rows.groupBy("person_id", "true_person").agg(F.count(F.lit(1)).alias("n"))
    stitched = cells.groupBy("person_id").agg(
        F.sum("n").alias("n"), F.count(F.lit(1)).alias("truths"), F.first("true_person").alias("true_person")
    )
    true = cells.groupBy("true_person").agg(F.sum("n").alias("n"), F.count(F.lit(1)).alias("parts"))
    exact = true.where(F.col("parts") == 1).join(
        stitched.where(F.col("truths") == 1).select("true_person", F.col("n").alias("stitched_n")), "true_person"
    )
    totals = (
        cells.agg(F.sum(_pairs(F.col("n"))).alias("tp"))
        .crossJoin(
            stitched.agg(
                F.sum(_pairs(F.col("n"))).alias("put"),
                F.sum((F.col("n") > 1).cast("int")).alias("sm"),
                F.sum(((F.col("n") > 1) & (F.col("truths") == 1)).cast("int")).alias("pure"),
            )
        )
        .crossJoin(true.agg(F.sum(_pairs(F.col("n"))).alias("real"), F.sum((F.col("n") > 1).cast("int")).alias("tm")))
        .crossJoin(
            exact.agg(F.sum(((F.col("n") > 1) & (F.col("n") == F.col("stitched_n"))).cast("int")).alias("recovered"))
        )
        .first()
    )

    def ratio(a, b) -> float | None:
        return float(a or 0) / float(b) if b else None

    return StitchingQuality(
        pair_precision=ratio(totals["tp"], totals["put"]),
        pair_recall=ratio(totals["tp"], totals["real"]),
        recovered=ratio(totals["recovered"], totals["tm"]),
        pure=ratio(totals["pure"], totals["sm"]),
        true_multi=int(totals["tm"] or 0),
        stitched_multi=int(totals["sm"] or 0),
    )
