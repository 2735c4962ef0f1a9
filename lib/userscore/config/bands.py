"""Bands: named cuts of a value (a target's risk tiers over its probability, value-score grades)."""

from __future__ import annotations

from collections.abc import Sequence

from userscore.config.typed import frozen


@frozen
class Band:
    """One tier or grade. Bands are tried in order: the first whose bound holds wins.

    ``above``: value > above; ``min``: value >= min; the last band has neither (everything else).
    """

    name: str
    min: float | None = None
    above: float | None = None

    def __post_init__(self):
        if self.min is not None and self.above is not None:
            raise ValueError(f"min: give min or above, not both (band {self.name!r})")

    @property
    def bound(self) -> float | None:
        return self.min if self.min is not None else self.above

    def holds(self, value):
        """Whether ``value`` reaches this band's bound (``above``: >, ``min``: >=); works on anything with
        those comparisons (a float, a numpy array, a Spark Column). Only for bounded bands."""
        return value > self.above if self.above is not None else value >= self.min


def check_bands(bands: Sequence[Band], what: str, scale: tuple[float, float]) -> None:
    """Bands with distinct names, strictly decreasing bounds within ``scale`` (the range of the banded
    value: a bound outside it makes a band empty or catch everything) and a last catch-all band."""
    names = [b.name for b in bands]
    if len(bands) < 2 or len(set(names)) != len(names):
        raise ValueError(f"{what}: at least two bands with distinct names, got {names}")
    *bounded, last = bands
    if last.bound is not None:
        raise ValueError(f"{what}: the last band ({last.name!r}) takes everything else: no min/above")
    bounds = [b.bound for b in bounded]
    if any(b is None for b in bounds):
        raise ValueError(f"{what}: every band but the last needs min or above, got {names}")
    if any(b <= a for a, b in zip(bounds[1:], bounds, strict=False)):
        raise ValueError(f"{what}: bounds strictly decreasing from the first band, got {bounds}")
    low, high = scale
    if any(not low <= b <= high for b in bounds):
        raise ValueError(f"{what}: bounds within [{low:g}, {high:g}], got {bounds}")


# The ranges banded values take: tiers cut calibrated probabilities, grades cut value_score.
PROBABILITY_SCALE = (0.0, 1.0)
VALUE_SCALE = (0.0, 100.0)
