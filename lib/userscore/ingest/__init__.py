"""Validated ingest: raw batches -> silver tables, quarantine and the reconciliation audit.

See pipeline.py for the order of work and writes, rules.py for the reason codes and their precedence,
fill.py for defaulted values and flag times (refunded_at), dedupe.py for duplicates and versions (later
versions of an order replace it), pii.py for the keyed hashing of personal data.
"""

from userscore.ingest.audit import AUDIT_TABLE, SourceCounts
from userscore.ingest.pii import hash_identifier, hmac_sha256, normalise_identifier, pii_key
from userscore.ingest.pipeline import (
    BatchPlan,
    BatchResult,
    IngestPlan,
    ingest,
    ingest_batch,
    plan_ingest,
    validate_source,
)
from userscore.ingest.quarantine import QUARANTINE_TABLE
from userscore.ingest.rules import REASONS

__all__ = [
    "AUDIT_TABLE",
    "QUARANTINE_TABLE",
    "REASONS",
    "BatchPlan",
    "BatchResult",
    "IngestPlan",
    "SourceCounts",
    "hash_identifier",
    "hmac_sha256",
    "ingest",
    "ingest_batch",
    "normalise_identifier",
    "pii_key",
    "plan_ingest",
    "validate_source",
]
