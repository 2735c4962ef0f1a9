"""Keeping an iterative algorithm's plan short: a checkpoint every few iterations, a cache in between."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

Checkpoint = Callable[[DataFrame], DataFrame]


def local_checkpoint(df: DataFrame) -> DataFrame:
    """The default checkpoint: materialise ``df`` in the executors' block stores and cut its lineage.

    Fast (no file system) but not fault tolerant: losing an executor fails the job, and it is unsafe with
    dynamic allocation (executors leave with their blocks). Pass a checkpoint that writes a table instead
    where that matters, and on Databricks serverless (see docs/graph.md).
    """
    return df.localCheckpoint(eager=True)


class Iterates:
    """Materialises the frame of each iteration exactly once and keeps its plan bounded.

    Iteration ``i`` is checkpointed when ``i % every == 0``, else persisted (cached) so that the action that
    reads it (the convergence test) computes it once and the next iteration reads the cache; the previous
    iterate is unpersisted once the new one has been read. The plan therefore never spans more than
    ``every`` iterations. With ``every == 1`` nothing is ever cached (for runtimes without a cache, such as
    Databricks serverless): every iterate goes through the checkpoint function.
    """

    def __init__(self, checkpoint: Checkpoint, every: int):
        if every < 1:
            raise ValueError(f"checkpoint_every must be >= 1; found {every}")
        self._checkpoint, self._every = checkpoint, every
        self._cached: DataFrame | None = None
        self._previous: DataFrame | None = None

    def keep(self, df: DataFrame, iteration: int) -> DataFrame:
        """The frame to read as iterate ``iteration``: checkpointed or cached; call ``release`` after reading it."""
        if iteration % self._every == 0:
            kept = self._checkpoint(df)
            self._previous, self._cached = self._cached, None
        else:
            kept = df.persist()
            self._previous, self._cached = self._cached, kept
        return kept

    def release(self) -> None:
        """Unpersist the iterate before the one just read (its successor no longer needs it)."""
        if self._previous is not None:
            self._previous.unpersist()
            self._previous = None

    def final(self, df: DataFrame) -> DataFrame:
        """``df`` (the last iterate) checkpointed if it is only cached, so that no cache outlives the call."""
        self.release()
        if self._cached is None:
            return df
        out = self._checkpoint(df)
        self._cached.unpersist()
        self._cached = None
        return out
