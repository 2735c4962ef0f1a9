"""Personal data as keyed hashes: HMAC-SHA256 computed with Spark built-ins, so it runs distributed.

HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)), where K' is the key (SHA-256 of the
key when longer than the 64-byte block) zero-padded to 64 bytes. The two padded keys are computed once
on the driver and enter the plan as binary literals; the result equals Python's
``hmac.new(key, msg, hashlib.sha256).hexdigest()`` for the UTF-8 bytes of the message. Because the padded
keys appear in the query plan, plans and event logs of ingest must be protected like the key itself.

Identifiers are normalised before hashing, so that the same phone or e-mail written differently gets
the same hash in every table (identity links join on it):
- trim surrounding white space; a blank value becomes null (never one shared hash for "no value");
- a value containing ``@`` is an e-mail: lower-cased;
- a value made only of digits and phone punctuation (``+ - . ( )`` and spaces) is a phone number:
  digits only (``+86-138-0013-8000`` -> ``8613800138000``);
- anything else (device or member ids) is kept as trimmed.
"""

from __future__ import annotations

import hashlib
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

from userscore.errors import InputError

_BLOCK = 64  # SHA-256 block size in bytes
_PHONE = r"^\+?[0-9 ().-]*[0-9][0-9 ().-]*$"


def pii_key(variable: str) -> bytes:
    """The HMAC key from environment variable ``variable``; unset or empty is an InputError."""
    value = os.environ.get(variable, "")
    if not value:
        raise InputError(
            f"PII hashing key missing: environment variable {variable} (named by ingest.pii_key_env) is unset "
            "or empty; set it to the secret key (never store it in the repository)"
        )
    return value.encode("utf-8")


def normalise_identifier(value: Column) -> Column:
    """Canonical form of a phone, e-mail or other identifier before hashing (see module docstring)."""
    trimmed = F.trim(value)
    return (
        F.when(trimmed == "", F.lit(None).cast("string"))
        .when(trimmed.contains("@"), F.lower(trimmed))
        .when(trimmed.rlike(_PHONE), F.regexp_replace(trimmed, "[^0-9]", ""))
        .otherwise(trimmed)
    )


def hmac_sha256(value: Column, key: bytes) -> Column:
    """Hex HMAC-SHA256 of the UTF-8 bytes of ``value`` (null stays null)."""
    block_key = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block_key = block_key.ljust(_BLOCK, b"\0")
    inner_pad = bytearray(b ^ 0x36 for b in block_key)
    outer_pad = bytearray(b ^ 0x5C for b in block_key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)


def hash_identifier(value: Column, key: bytes) -> Column:
    """Normalise, then keyed-hash: how every PII column is stored."""
    return hmac_sha256(normalise_identifier(value), key)
