"""Privacy: consent that stages honour, and erasure of data subjects from every table, the raw landing zone
and Delta history (docs/privacy.md)."""

from userscore.privacy.erasure import ErasureResult, forget, subject_tables
from userscore.privacy.log import LOG_TABLE, subject_hash
from userscore.privacy.requests import ErasureRequest, read_requests

__all__ = ["LOG_TABLE", "ErasureRequest", "ErasureResult", "forget", "read_requests", "subject_hash", "subject_tables"]
