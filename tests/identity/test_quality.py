"""Stitching quality against a truth (userscore.identity.quality), worked by hand."""

from __future__ import annotations

import pytest

from userscore.identity.quality import stitching_quality


def test_pairwise_and_per_person_scores(spark):
    stitched = {"a": "X", "b": "X", "c": "X", "d": "Y", "e": "Z", "f": "Z"}
    truth = {"a": "T1", "b": "T1", "c": "T2", "d": "T2", "e": "T3", "f": "T3", "zz": "T4"}
    quality = stitching_quality(
        spark.createDataFrame(list(stitched.items()), "user_id string, person_id string"),
        spark.createDataFrame(list(truth.items()), "user_id string, true_person string"),
    )
    # Pairs put together: X 3, Z 1; true pairs: T1 1, T2 1, T3 1; both: (a,b) and (e,f).
    assert quality.pair_precision == pytest.approx(2 / 4)
    assert quality.pair_recall == pytest.approx(2 / 3)
    # True persons with several ids: T1, T2, T3; only T3 is stitched exactly (X mixes T1 and T2).
    assert (quality.true_multi, quality.recovered) == (3, pytest.approx(1 / 3))
    # Stitched persons with several ids: X (mixed) and Z (pure).
    assert (quality.stitched_multi, quality.pure) == (2, pytest.approx(1 / 2))
