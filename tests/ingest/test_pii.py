"""Keyed hashing of personal data with Spark built-ins equals Python's hmac; normalisation before hashing."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from userscore.errors import InputError
from userscore.ingest import hash_identifier, hmac_sha256, normalise_identifier, pii_key

MESSAGES = ["8613800138000", "alice@example.com", "", "dev-42", "ünïcødé@例え.jp", "x" * 300]


@pytest.mark.parametrize(
    "key", [b"test-only-pii-key", b"k" * 64, b"a much longer key " * 8], ids=["short", "block", "long"]
)
def test_hmac_with_spark_builtins_equals_pythons_hmac(spark, key):
    df = spark.createDataFrame([(m,) for m in MESSAGES], "message string")
    got = {
        r.message: r.digest for r in df.select("message", hmac_sha256(F.col("message"), key).alias("digest")).collect()
    }
    assert got == {m: hmac.new(key, m.encode("utf-8"), hashlib.sha256).hexdigest() for m in MESSAGES}


def test_identifiers_are_normalised_before_hashing(spark):
    raw = ["+86-138-0013-8000", " +86 (138) 0013.8000 ", " Alice@Example.COM ", "dev-42 ", "   ", None]
    expected = ["8613800138000", "8613800138000", "alice@example.com", "dev-42", None, None]
    df = spark.createDataFrame([(v,) for v in raw], "value string")
    rows = df.select(normalise_identifier(F.col("value")).alias("n"), hash_identifier(F.col("value"), b"k").alias("h"))
    got = [(r.n, r.h) for r in rows.collect()]
    assert got == [(e, None if e is None else hmac.new(b"k", e.encode(), hashlib.sha256).hexdigest()) for e in expected]


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("SOME_PII_KEY", raising=False)
    with pytest.raises(InputError, match="environment variable SOME_PII_KEY"):
        pii_key("SOME_PII_KEY")
    monkeypatch.setenv("SOME_PII_KEY", "s3cret")
    assert pii_key("SOME_PII_KEY") == b"s3cret"
