"""The types of every estimator and training setting, in one place.

These frozen dataclasses are config sections: their values live in conf/base/models.yaml (the
``models.defaults`` block, which each target's own keys are merged over); nothing in the training code
passes a literal hyper-parameter. Why each value is what it is: docs/training.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from userscore.config.typed import Count, NonNegative, Range, Share, frozen

_OpenShare = Annotated[float, Range(0.0, 1.0, low_open=True)]  # a share that must not be 0


@frozen
class GBTParams:
    """Spark MLlib GBTClassifier settings (names follow the Spark params in snake_case)."""

    max_iter: Count
    max_depth: Annotated[int, Range(1, 30)]  # Spark's limit
    step_size: _OpenShare
    max_bins: Annotated[int, Range(2)]
    min_instances_per_node: Count
    min_info_gain: NonNegative
    subsampling_rate: _OpenShare
    feature_subset_strategy: str
    # The node-id cache pays off for deep trees only (conf/base/models.yaml says why it is off).
    cache_node_ids: bool
    checkpoint_interval: Annotated[int, Range(-1)]
    max_memory_in_mb: Count
    # Early stopping on a hash-chosen share of the training sample (0 = off, train all max_iter trees).
    early_stopping_fraction: Annotated[float, Range(0.0, 0.5, high_open=True)]
    validation_tol: NonNegative
    seed: int

    def __post_init__(self):
        if self.checkpoint_interval == 0:
            raise ValueError("checkpoint_interval: 1 or more, or -1 (no checkpoints)")


@frozen
class LRParams:
    """The logistic-regression baseline (standardised features, L2-regularised)."""

    max_iter: Count
    reg_param: NonNegative
    elastic_net_param: Share
    tol: NonNegative


@frozen
class CalibrationParams:
    """How the served probability is calibrated on the held-out calibration slice.

    isotonic: centred isotonic regression (Spark's pool-adjacent-violators blocks, linear between their
    centres: monotone, no shape assumption, no ranking ties); platt: a logistic fit on the model's
    log-odds (two parameters); none: the raw GBT probability. auto: the one with the lowest ECE out of
    fold (``folds`` folds of the slice by a hash of the user, salted with ``seed``; the bins of
    ``models.evaluation.ece_bins``, as the validation ECE uses); the validation snapshot is never read.
    """

    method: Literal["auto", "isotonic", "platt", "none"]
    folds: Annotated[int, Range(2, 10)]
    seed: int


@frozen
class SampleParams:
    """Stratified sampling of the training rows.

    Every class is sampled with its own fraction by a deterministic hash of (user_id, as_of_date),
    so a re-run picks the same rows. ``max_majority_ratio`` caps majority rows per minority row
    (None keeps the natural ratio); ``class_weight: balanced`` weights rows so both classes weigh
    the same. Either way the calibration slice is sampled uniformly, so calibration maps scores back
    to the true base rate.
    """

    max_rows: Annotated[int, Range(10)]
    max_majority_ratio: Annotated[float, Range(1.0)] | None = None
    class_weight: Literal["none", "balanced"]
    seed: int


@frozen
class SplitParams:
    """Time-based split: older matured snapshots train, the newest matured snapshot validates.

    A hash-chosen share of users (all their snapshots) is held out of training for calibration.
    ``calibration_snapshots`` limits the calibration slice to the newest N training snapshots
    (None: all of them); ``max_train_snapshots`` limits training to the newest N.
    """

    calibration_fraction: Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)]
    calibration_max_rows: Count
    calibration_snapshots: Count | None = None
    validation_max_rows: Count
    max_train_snapshots: Count | None = None
    seed: int


HORIZON_PLACEHOLDER = "{horizon}"


@frozen
class BaselineSpec:
    """A naive ranking every trained model must beat: one feature column taken as the score.

    column: a feature column; ``{horizon}`` stands for the target's ``horizon_days`` (e.g.
    ``bgnbd_expected_purchases_{horizon}d``). direction: ``higher`` when a higher value means the positive
    label is more likely, ``lower`` when a lower value does (days since the last order, for a purchase).
    """

    column: str
    direction: Literal["higher", "lower"]

    def __post_init__(self):
        if not self.column.replace(HORIZON_PLACEHOLDER, "1").isidentifier():
            raise ValueError(f"column: a column name, optionally with {HORIZON_PLACEHOLDER}, got {self.column!r}")

    def column_for(self, horizon_days: int) -> str:
        """The column this baseline reads for a target of ``horizon_days``."""
        return self.column.replace(HORIZON_PLACEHOLDER, str(horizon_days))
