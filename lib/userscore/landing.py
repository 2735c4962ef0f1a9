"""The raw landing zone: files as they arrive, ``<raw_dir>/<source>/<batch_id>/part-*``.

Besides the table catalog, this is the only module that touches files. JSON sources are read and
written as text lines, so that a malformed or non-UTF-8 record survives to the quarantine verbatim.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from userscore.errors import InputError


def batch_path(raw_dir: Path, source: str, batch_id: str) -> Path:
    return raw_dir / source / batch_id


def list_batches(raw_dir: Path, source: str) -> list[str]:
    """Batch ids that have landed for ``source``, oldest first (ids sort by arrival by convention)."""
    folder = raw_dir / source
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def write_text_lines(df: DataFrame, path: Path) -> None:
    """Write a one-string-column DataFrame as text lines (JSON-lines sources), replacing the folder."""
    if len(df.columns) != 1:
        raise ValueError(f"text landing needs exactly one string column, got {df.columns}")
    df.write.mode("overwrite").option("compression", "none").text(str(path))


def write_parquet(df: DataFrame, path: Path) -> None:
    df.write.mode("overwrite").parquet(str(path))


def read_text_lines(spark: SparkSession, path: Path) -> DataFrame:
    """Column ``value``: one raw line per record, exactly as landed."""
    _require(path)
    return spark.read.option("lineSep", "\n").text(str(path))


def read_parquet(spark: SparkSession, path: Path) -> DataFrame:
    _require(path)
    return spark.read.parquet(str(path))


def _require(path: Path) -> None:
    if not path.exists() or not any(
        p.name.startswith("part-") or p.suffix in (".parquet", ".json", ".jsonl", ".txt") for p in path.iterdir()
    ):
        raise InputError(f"no raw files at {path}")
