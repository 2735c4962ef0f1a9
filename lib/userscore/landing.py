"""The raw landing zone: files as they arrive, ``<raw_dir>/<source>/<batch_id>/part-*``.

Besides the table catalog, this is the only module that touches files. JSON sources are read and
written as text lines, so that a malformed or non-UTF-8 record survives to the quarantine verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


def read_delta(spark: SparkSession, path: Path) -> DataFrame:
    """A raw batch landed as a Delta table (``format: delta`` sources, e.g. an upstream export)."""
    if not (path / "_delta_log").is_dir():
        raise InputError(f"no Delta table at {path}")
    return spark.read.format("delta").load(str(path))


def write_delta(df: DataFrame, path: Path) -> None:
    df.write.format("delta").mode("overwrite").save(str(path))


def manifest_path(raw_dir: Path, batch_id: str) -> Path:
    """Where a batch's manifest lives: ``<raw_dir>/_manifest/<batch_id>.json`` (not a source folder)."""
    return raw_dir / "_manifest" / f"{batch_id}.json"


def write_manifest(raw_dir: Path, batch_id: str, manifest: dict) -> Path:
    """Write a batch's small JSON manifest (what was landed, per source), replacing it atomically."""
    path = manifest_path(raw_dir, batch_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def read_manifest(raw_dir: Path, batch_id: str) -> dict:
    path = manifest_path(raw_dir, batch_id)
    if not path.is_file():
        raise InputError(f"no manifest for batch {batch_id!r} at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _require(path: Path) -> None:
    if not path.exists() or not any(
        p.name.startswith("part-") or p.suffix in (".parquet", ".json", ".jsonl", ".txt") for p in path.iterdir()
    ):
        raise InputError(f"no raw files at {path}")


def landed_files(raw_dir: Path, source: str) -> list[Path]:
    """Every landed data file of ``source``, all batches (hidden and ``_`` files are Spark's, not data)."""
    return [
        f
        for batch in list_batches(raw_dir, source)
        for f in sorted(batch_path(raw_dir, source, batch).iterdir())
        if f.is_file() and not f.name.startswith(("_", "."))
    ]


def replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Atomically replace ``path`` with what ``write`` writes to a hidden sibling (invisible to readers,
    which skip dot files), then drop Hadoop's checksum of the old content, which would fail the next read."""
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    partial.replace(path)
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
