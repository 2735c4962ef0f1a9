"""Config section ``stream``: the near-real-time rescoring query (conf/base/stream.yaml, docs/streaming.md).

``sources``: the landed ingest sources the query watches; ``trigger``: a micro-batch every
``interval_seconds`` until stopped, or everything landed so far then stop; ``checkpoint``: the query's
offsets and commits (relative: under catalog.root); the live scores and progress tables it writes; how
often it republishes the look-up API's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from userscore.config.typed import Count, KeyPath, Range, frozen


@frozen
class TriggerConfig:
    mode: Literal["processing_time", "available_now"]
    interval_seconds: Annotated[float, Range(0.0)]


@frozen
class StreamConfig:
    sources: tuple[str, ...]
    trigger: TriggerConfig
    max_files_per_trigger: Count
    checkpoint: str
    live_table: str
    progress_table: str
    snapshot_refresh_minutes: Annotated[float, Range(0.0)] | None = None

    def __post_init__(self):
        if not self.sources:
            raise ValueError("sources: at least one landed source to watch")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources: each source once, got {list(self.sources)}")


def reference_errors(
    stream: StreamConfig, ingest_sources: Mapping[str, object], tables: Mapping[str, object]
) -> Iterator[tuple[KeyPath, str, str]]:
    """Watched sources that ingest does not declare, and undeclared output tables. (A source declared in
    ingest.absent_sources is not watched: the business has no such files.)"""
    for i, name in enumerate(stream.sources):
        if name not in ingest_sources:
            yield ("stream", "sources", str(i)), f"unknown source {name!r}", f"one of {list(ingest_sources)}"
    for key in ("live_table", "progress_table"):
        name = getattr(stream, key)
        if name not in tables:
            yield ("stream", key), f"undefined table {name!r}", f"one of {sorted(tables)}"
