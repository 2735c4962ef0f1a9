"""Which rows belong to the subjects of erasure requests, by a table's privacy declarations.

A row matches a user id when a ``subject_columns`` value equals it, or when it is one of the whole
string values of a ``subject_json_columns`` JSON text (so erasing ``u1`` never touches ``u10``), or when it is
an element of a person's ``member_user_ids`` (rows keyed by person, identity.resolve). The
requests' user ids enter plans as literals or a small DataFrame: they are driver-side input already.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from userscore.config.tables import TableSpec
from userscore.privacy.requests import ErasureRequest

SUBJECT = "subject"  # the user id
TOKEN = "token"  # the user id as written inside a JSON string (escaped)
REQUEST = "request_id"
# A JSON string literal; group 1 is its escaped content. Used in Spark (Java regex) and Python. The
# possessive quantifiers consume runs of plain characters at once: Java's regex engine recurses per
# repetition of a group, which overflows the stack on long records with a per-character alternation.
JSON_STRING = r'"((?:[^"\\]++|\\.)*+)"'
_JSON_STRING_BYTES = re.compile(JSON_STRING.encode())


def json_token(user_id: str) -> str:
    """How ``user_id`` appears between the quotes of a JSON string."""
    return json.dumps(user_id, ensure_ascii=False)[1:-1]


def subject_owner(requests: Sequence[ErasureRequest]) -> dict[str, str]:
    """user id -> request id; a user id listed by two requests is attributed to the first one."""
    owner: dict[str, str] = {}
    for request in requests:
        for user_id in request.user_ids:
            owner.setdefault(user_id, request.request_id)
    return owner


def subjects_frame(spark: SparkSession, owner: Mapping[str, str]) -> DataFrame:
    """(subject, token): the MERGE source of an erasure."""
    return spark.createDataFrame([(u, json_token(u)) for u in owner], f"{SUBJECT} string, {TOKEN} string")


def _sql_tokens(column: str) -> str:
    """SQL: the escaped contents of every JSON string in ``column`` (backslashes doubled for the literal)."""
    return "regexp_extract_all({}, '{}', 1)".format(column, JSON_STRING.replace("\\", "\\\\"))


def match_condition(spec: TableSpec, arrays: Sequence[str] = ()) -> str:
    """MERGE condition between the table (``t``) and the subjects (``s``), without any user id in it."""
    parts = [f"t.`{c}` = s.{SUBJECT}" for c in spec.subject_columns or ()]
    parts += [f"array_contains(t.`{c}`, s.{SUBJECT})" for c in arrays]
    parts += [f"array_contains({_sql_tokens(f't.`{c}`')}, s.{TOKEN})" for c in spec.subject_json_columns]
    return " OR ".join(f"({p})" for p in parts)


def matched_requests(spec: TableSpec, owner: Mapping[str, str], arrays: Sequence[str] = ()) -> Column:
    """Per row: the distinct request ids whose subjects the row matches (empty when none); ``arrays``: columns
    of user ids (a person's ``member_user_ids``) a subject may be one of."""
    by_id = F.create_map(*[F.lit(x) for pair in owner.items() for x in pair])
    by_token = F.create_map(*[F.lit(x) for u, r in owner.items() for x in (json_token(u), r)])
    matched = [F.array(F.try_element_at(by_id, F.col(f"`{c}`"))) for c in spec.subject_columns or ()]
    matched += [F.transform(F.col(f"`{c}`"), lambda u: F.try_element_at(by_id, u)) for c in arrays]
    matched += [
        F.transform(
            F.regexp_extract_all(F.col(f"`{c}`"), F.lit(JSON_STRING), F.lit(1)),
            lambda t: F.try_element_at(by_token, t),
        )
        for c in spec.subject_json_columns
    ]
    return F.array_distinct(F.filter(F.flatten(F.array(*matched)), lambda r: r.isNotNull()))


def line_requests(line: bytes, tokens: Mapping[bytes, str], prefilter: re.Pattern[bytes]) -> set[str]:
    """The requests whose subjects are whole JSON string values of a raw JSON line (any bytes)."""
    if not prefilter.search(line):
        return set()
    return {tokens[t] for t in _JSON_STRING_BYTES.findall(line) if t in tokens}


def line_matcher(owner: Mapping[str, str]) -> tuple[dict[bytes, str], re.Pattern[bytes]]:
    """The token -> request map and a fast pre-filter (any quoted token) for ``line_requests``."""
    tokens = {json_token(u).encode(): r for u, r in owner.items()}
    prefilter = re.compile(b"|".join(re.escape(b'"' + t + b'"') for t in tokens))
    return tokens, prefilter
