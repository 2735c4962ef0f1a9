"""Every estimator and training default, in one typed place.

These frozen dataclasses are config sections (a target in conf/base/models.yaml may override any
key), so the defaults below are the only ones: nothing in the training code passes a literal
hyper-parameter. Why each default is what it is: docs/training.md.
"""

from __future__ import annotations

from typing import Literal

from userscore.config.typed import frozen


@frozen
class GBTParams:
    """Spark MLlib GBTClassifier settings (names follow the Spark params in snake_case)."""

    max_iter: int = 80
    max_depth: int = 5
    step_size: float = 0.1
    max_bins: int = 32
    min_instances_per_node: int = 50
    min_info_gain: float = 0.0
    subsampling_rate: float = 0.8
    feature_subset_strategy: str = "all"
    # Node-id cache + checkpointing: each iteration reads cached node ids instead of re-walking every
    # tree, and the checkpoint truncates the lineage that grows by one step per tree.
    cache_node_ids: bool = True
    checkpoint_interval: int = 10
    max_memory_in_mb: int = 512
    # Early stopping on a hash-chosen share of the training sample (0 = off, train all max_iter trees).
    early_stopping_fraction: float = 0.0
    validation_tol: float = 0.01
    seed: int = 17

    def __post_init__(self):
        if self.max_iter < 1 or self.max_depth < 1:
            raise ValueError("max_iter: max_iter and max_depth must be positive")
        if not 0.0 < self.subsampling_rate <= 1.0:
            raise ValueError(f"subsampling_rate: a share in (0, 1], got {self.subsampling_rate}")
        if not 0.0 <= self.early_stopping_fraction < 0.5:
            raise ValueError(f"early_stopping_fraction: a share in [0, 0.5), got {self.early_stopping_fraction}")
        if self.max_bins < 2:
            raise ValueError(f"max_bins: at least 2, got {self.max_bins}")


@frozen
class LRParams:
    """The logistic-regression baseline (standardised features, L2 by default)."""

    max_iter: int = 100
    reg_param: float = 0.001
    elastic_net_param: float = 0.0
    tol: float = 1e-6


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

    max_rows: int = 1_000_000
    max_majority_ratio: float | None = None
    class_weight: Literal["none", "balanced"] = "none"
    seed: int = 11

    def __post_init__(self):
        if self.max_rows < 10:
            raise ValueError(f"max_rows: at least 10, got {self.max_rows}")
        if self.max_majority_ratio is not None and self.max_majority_ratio < 1.0:
            raise ValueError(f"max_majority_ratio: at least 1 (or null), got {self.max_majority_ratio}")


@frozen
class SplitParams:
    """Time-based split: older matured snapshots train, the newest matured snapshot validates.

    A hash-chosen share of users (all their snapshots) is held out of training for calibration.
    ``calibration_snapshots`` limits the calibration slice to the newest N training snapshots
    (None: all of them); ``max_train_snapshots`` limits training to the newest N.
    """

    calibration_fraction: float = 0.25
    calibration_max_rows: int = 500_000
    calibration_snapshots: int | None = None
    validation_max_rows: int = 1_000_000
    max_train_snapshots: int | None = None
    seed: int = 13

    def __post_init__(self):
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ValueError(f"calibration_fraction: a share in (0, 1), got {self.calibration_fraction}")
        for name in ("calibration_snapshots", "max_train_snapshots"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: at least 1 (or null), got {value}")
