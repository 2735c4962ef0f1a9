"""Erasure in the raw landing zone: the landed files that hold a subject, rewritten without them.

JSON-lines files are matched line by line (a subject's id as a whole JSON string value, so malformed
lines are caught too); Parquet files by the subject columns of the silver table the source feeds.
A file is replaced atomically (landing.replace_file); a file left with no record stays as an empty
file of the same schema, so its batch still reads and re-ingests. Work is per file on the driver, like
every landing-zone file operation; only the subjects' records are ever materialised as values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from userscore import landing
from userscore.config.ingest import IngestConfig
from userscore.config.tables import TableSpec
from userscore.privacy.matching import line_matcher, line_requests


@dataclass(frozen=True)
class RawFile:
    """One landed file holding subjects: records per request, and whether it was rewritten."""

    path: str  # relative to the raw folder
    records: Mapping[str, int]
    rewritten: bool


@dataclass(frozen=True)
class RawErasure:
    files: tuple[RawFile, ...]
    skipped_sources: tuple[str, ...] = field(default=())


def erase_raw(
    raw_dir: Path,
    ingest: IngestConfig,
    tables: Mapping[str, TableSpec],
    owner: Mapping[str, str],
    *,
    rewrite: bool,
) -> RawErasure:
    """Find (and, when ``rewrite``, rewrite) every landed file holding a subject of ``owner``
    (user id -> request id). Delta-format sources are not scanned: they are reported as skipped."""
    tokens, prefilter = line_matcher(owner)
    found: list[RawFile] = []
    skipped: list[str] = []
    for name, source in ingest.sources.items():
        if source.format == "delta":
            skipped.append(name)
            continue
        columns = tables[source.table].subject_columns or ()
        for path in landing.landed_files(raw_dir, source.path):
            if source.format == "json":
                records = _json_file(path, tokens, prefilter, rewrite)
            else:
                records = _parquet_file(path, columns, owner, rewrite)
            if records:
                found.append(RawFile(str(path.relative_to(raw_dir)), records, rewrite))
    return RawErasure(tuple(found), tuple(skipped))


def _json_file(path: Path, tokens, prefilter, rewrite: bool) -> Counter:
    lines = path.read_bytes().splitlines(keepends=True)
    matched = [line_requests(line, tokens, prefilter) for line in lines]
    records = Counter(r for requests in matched for r in requests)
    if records and rewrite:
        kept = b"".join(line for line, requests in zip(lines, matched, strict=True) if not requests)
        landing.replace_file(path, lambda out: out.write_bytes(kept))
    return records


def _parquet_file(path: Path, columns, owner: Mapping[str, str], rewrite: bool) -> Counter:
    schema = pq.read_schema(path)
    present = [c for c in columns if c in schema.names]
    if not present:
        return Counter()
    ids = pa.array(list(owner), pa.string())
    table = pq.read_table(path)
    masks = [pc.fill_null(pc.is_in(table[c].cast(pa.string()), value_set=ids), False) for c in present]
    matched = masks[0]
    for mask in masks[1:]:
        matched = pc.or_(matched, mask)
    if not pc.any(matched).as_py():
        return Counter()
    # Only the subjects' rows reach Python values: attribute each to its request(s).
    hits = table.filter(matched).select(present).to_pylist()
    records = Counter(r for row in hits for r in {owner[v] for v in row.values() if v in owner})
    if rewrite:
        kept = table.filter(pc.invert(matched))
        landing.replace_file(path, lambda out: pq.write_table(kept, out, compression="snappy"))
    return records
