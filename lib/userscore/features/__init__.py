"""Point-in-time user features: one snapshot per date D from rows with event time < D.

Public API:
- :func:`snapshot` (context manager) -> :class:`Snapshot` (features + RFM boundaries) from :class:`Sources`;
- :func:`feature_columns`: the snapshot's feature columns for a config;
- :func:`rfm_core`: the RFM core measures alone (benchmarks);
- :func:`point_in_time`: the event-time filter every source goes through.
"""

from userscore.features.measures import point_in_time
from userscore.features.rfm import rfm_core
from userscore.features.snapshot import AS_OF, KEY_COLUMNS, Snapshot, Sources, feature_columns, snapshot

__all__ = ["AS_OF", "KEY_COLUMNS", "Snapshot", "Sources", "feature_columns", "point_in_time", "rfm_core", "snapshot"]
