"""Erasure requests: a CSV file with header ``request_id,user_id``, one row per user id of a request.

A request may list several user ids (one person known under several ids, e.g. after identity
stitching): give one row per id with the same request_id. Values are trimmed; blank values, other
columns, a missing header or an empty file are errors, raised before anything is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from userscore.errors import InputError

COLUMNS = ("request_id", "user_id")


@dataclass(frozen=True)
class ErasureRequest:
    """One data subject's erasure request: its id and every user id the subject is known under."""

    request_id: str
    user_ids: tuple[str, ...]


def read_requests(path: Path) -> tuple[ErasureRequest, ...]:
    """Parse the request file; requests keep their first-seen order, user ids their file order."""
    if not path.is_file():
        raise InputError(f"request file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"request file {path} is not UTF-8 text: {exc}") from None
    rows = csv.reader(text.splitlines())
    header = [h.strip() for h in next(rows, [])]
    if sorted(header) != sorted(COLUMNS):
        unknown = [h for h in header if h not in COLUMNS]
        raise InputError(
            f"request file {path}: header must be the columns {list(COLUMNS)}, got {header}"
            + (f" (unknown {unknown})" if unknown else "")
        )
    by_request: dict[str, list[str]] = {}
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"request file {path} line {line}: {len(header)} fields expected, got {len(row)}")
        values = dict(zip(header, (v.strip() for v in row), strict=True))
        blank = [c for c in COLUMNS if not values[c]]
        if blank:
            raise InputError(f"request file {path} line {line}: blank {blank}")
        ids = by_request.setdefault(values["request_id"], [])
        if values["user_id"] not in ids:
            ids.append(values["user_id"])
    if not by_request:
        raise InputError(f"request file {path} lists no request (only a header or nothing)")
    return tuple(ErasureRequest(r, tuple(ids)) for r, ids in by_request.items())
