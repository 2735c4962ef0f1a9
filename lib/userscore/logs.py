"""Job logging: one logger per job, timed stages, and the summary a job ends with."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str, level: str = "INFO") -> logging.Logger:
    logger = logging.getLogger(f"userscore.{name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


@contextmanager
def timed(logger: logging.Logger, stage: str, durations: dict[str, float] | None = None) -> Iterator[None]:
    """Log a stage's start and duration; record the duration in ``durations`` when given."""
    logger.info("stage %s: start", stage)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        if durations is not None:
            durations[stage] = durations.get(stage, 0.0) + elapsed
        logger.info("stage %s: %.1fs", stage, elapsed)
