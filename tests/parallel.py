"""How `make test` spreads the suite over pytest-xdist workers (each with its own local SparkSession).

Tests are handed out by test file, so a module-scoped fixture is built once; files that share a costlier
set-up form one unit (SHARED_SETUP), so that set-up is built once too. The units that take longest start
first (FIRST), so the run does not end waiting on one of them.
"""

from __future__ import annotations

import os

# Path prefix -> the unit its files run in, on one worker.
SHARED_SETUP = {
    # One standalone cluster and one pipeline run through spark-submit (package-scoped fixtures).
    "tests/cluster/": "cluster",
    # One generated world scored in batch (package-scoped), and the session's champion store.
    "tests/stream/": "stream",
    # The generated, landed user base (session-scoped in tests/generate/conftest.py).
    "tests/generate/": "generate",
    # The CDNOW files fetched and converted once into data/cdnow (a session fixture writing the repository).
    "tests/btyd/": "btyd",
}
# The longest units (35 and 14 minutes beside the other worker on 2 cores), started before everything else.
FIRST = ("tests/cluster/", "tests/stream/")
# Each worker is a Spark driver with 4 GiB of heap (tests/conftest.py) and two task threads.
MAX_WORKERS = 4


def unit_of(nodeid: str) -> str:
    """The scheduling unit of a test id: its file, or the shared set-up its file belongs to."""
    path = nodeid.split("::", 1)[0]
    return next((unit for prefix, unit in SHARED_SETUP.items() if path.startswith(prefix)), path)


def first_rank(nodeid: str) -> int:
    """Its prefix's index in FIRST for the units started first, len(FIRST) for the rest (kept in collection order)."""
    return next((i for i, prefix in enumerate(FIRST) if nodeid.startswith(prefix)), len(FIRST))


def workers() -> int:
    """One worker per core, at most MAX_WORKERS (a 2-core machine runs two)."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedSetupScheduling(LoadScopeScheduling):
        """xdist's per-scope scheduling with SHARED_SETUP's units, in collection order (FIRST first)."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return SharedSetupScheduling(config, log)
