"""Every estimator and training default, in one typed place.

These frozen dataclasses are config sections (a target in conf/base/models.yaml may override any
key), so the defaults below are the only ones: nothing in the training code passes a literal
hyper-parameter. Why each default is what it is: docs/training.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from userscore.config.typed import Count, NonNegative, Range, Share, frozen

_OpenShare = Annotated[float, Range(0.0, 1.0, low_open=True)]  # a share that must not be 0


@frozen
class GBTParams:
    """Spark MLlib GBTClassifier settings (names follow the Spark params in snake_case)."""

    max_iter: Count = 80
    max_depth: Annotated[int, Range(1, 30)] = 5  # Spark's limit
    step_size: _OpenShare = 0.1
    max_bins: Annotated[int, Range(2)] = 32
    min_instances_per_node: Count = 50
    min_info_gain: NonNegative = 0.0
    subsampling_rate: _OpenShare = 0.8
    feature_subset_strategy: str = "all"
    # Node-id cache + checkpointing: each iteration reads cached node ids instead of re-walking every
    # tree, and the checkpoint truncates the lineage that grows by one step per tree.
    cache_node_ids: bool = True
    checkpoint_interval: Annotated[int, Range(-1)] = 10
    max_memory_in_mb: Count = 512
    # Early stopping on a hash-chosen share of the training sample (0 = off, train all max_iter trees).
    early_stopping_fraction: Annotated[float, Range(0.0, 0.5, high_open=True)] = 0.0
    validation_tol: NonNegative = 0.01
    seed: int = 17

    def __post_init__(self):
        if self.checkpoint_interval == 0:
            raise ValueError("checkpoint_interval: 1 or more, or -1 (no checkpoints)")


@frozen
class LRParams:
    """The logistic-regression baseline (standardised features, L2 by default)."""

    max_iter: Count = 100
    reg_param: NonNegative = 0.001
    elastic_net_param: Share = 0.0
    tol: NonNegative = 1e-6


@frozen
class CalibrationParams:
    """How the served probability is calibrated on the held-out calibration slice.

    isotonic: Spark's distributed pool-adjacent-violators fit (monotone, no shape assumption);
    platt: a logistic fit on the model's log-odds (two parameters; for small calibration slices).
    """

    method: Literal["isotonic", "platt"] = "isotonic"


@frozen
class SampleParams:
    """Stratified sampling of the training rows.

    Every class is sampled with its own fraction by a deterministic hash of (user_id, as_of_date),
    so a re-run picks the same rows. ``max_majority_ratio`` caps majority rows per minority row
    (None keeps the natural ratio); ``class_weight: balanced`` weights rows so both classes weigh
    the same. Either way the calibration slice is sampled uniformly, so calibration maps scores back
    to the true base rate.
    """

    max_rows: Annotated[int, Range(10)] = 1_000_000
    max_majority_ratio: Annotated[float, Range(1.0)] | None = None
    class_weight: Literal["none", "balanced"] = "none"
    seed: int = 11


@frozen
class SplitParams:
    """Time-based split: older matured snapshots train, the newest matured snapshot validates.

    A hash-chosen share of users (all their snapshots) is held out of training for calibration.
    ``calibration_snapshots`` limits the calibration slice to the newest N training snapshots
    (None: all of them); ``max_train_snapshots`` limits training to the newest N.
    """

    calibration_fraction: Annotated[float, Range(0.0, 1.0, low_open=True, high_open=True)] = 0.25
    calibration_max_rows: Count = 500_000
    calibration_snapshots: Count | None = None
    validation_max_rows: Count = 1_000_000
    max_train_snapshots: Count | None = None
    seed: int = 13
