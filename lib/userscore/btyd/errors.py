"""Errors raised by the buy-till-you-die (BTYD) models."""

from __future__ import annotations


class FitError(Exception):
    """A BTYD fit failed: the input is unusable or the optimiser did not converge.

    The message says what failed and, for optimiser failures, the optimiser's message and the last
    parameters it reached, so that a job log alone is enough to act on it.
    """
