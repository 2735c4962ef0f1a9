"""The raw landing zone: files as they arrive, ``<raw_dir>/<source>/<batch_id>/part-*``.

Besides the table catalog, this is the only module that touches files. JSON sources are read and
written as text lines, so that a malformed or non-UTF-8 record survives to the quarantine verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

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


def read_folder(spark: SparkSession, fmt: str, path: Path) -> DataFrame:
    """One batch folder of a source landed as ``fmt`` (ingest.sources.<s>.format: json, parquet or delta)."""
    if fmt == "json":
        return read_text_lines(spark, path)
    if fmt == "delta":
        return read_delta(spark, path)
    return read_parquet(spark, path)


def read_text_lines(spark: SparkSession, path: Path | Sequence[Path]) -> DataFrame:
    """Column ``value``: one raw line per record, exactly as landed (of one folder, or several in one scan)."""
    paths = [path] if isinstance(path, Path) else list(path)
    for folder in paths:
        _require(folder)
    return spark.read.option("lineSep", "\n").text([str(p) for p in paths])


def read_parquet(spark: SparkSession, path: Path) -> DataFrame:
    """A batch folder of Parquet files, read with the union of their columns.

    Spark reads every file with one schema, taken from one file: a file typing a column differently fails
    a task halfway through the job, and columns that file lacks are dropped from all. So every file's
    footer is read first (on the driver, footers only: work bounded by the number of files); when the
    files do not share one schema, each distinct schema's Spark types are compared and the batch is read
    with their union (a column is null in files without it). A column typed differently in two files, or
    a file Spark cannot read, raises InputError naming the batch, the file(s) and the column.
    """
    _require(path)
    by_schema: dict[tuple[tuple[str, str], ...], Path] = {}
    for file in _data_files(path):
        try:
            schema = pq.read_schema(file)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(
                f"{_batch_label(path)}: {_name(file, path)} is not a readable Parquet file: {exc}"
            ) from None
        by_schema.setdefault(tuple((f.name, str(f.type)) for f in schema), file)
    if len(by_schema) <= 1:
        return _spark_read(spark, path, path)
    return spark.read.schema(_union(spark, path, by_schema.values())).parquet(str(path))


def read_delta(spark: SparkSession, path: Path) -> DataFrame:
    """A raw batch landed as a Delta table (``format: delta`` sources, e.g. an upstream export)."""
    if not (path / "_delta_log").is_dir():
        raise InputError(f"no Delta table at {path}")
    return spark.read.format("delta").load(str(path))


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


def _data_files(path: Path) -> list[Path]:
    """The files Spark reads in a batch folder: names starting with ``_`` or ``.`` are hidden to it."""
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )


def _union(spark: SparkSession, path: Path, files: Iterable[Path]) -> T.StructType:
    """The union of the files' Spark schemas, columns in order of first appearance; one type per column."""
    first: dict[str, tuple[T.StructField, Path]] = {}
    for file in files:
        for field in _spark_read(spark, file, path).schema.fields:
            if field.name not in first:
                first[field.name] = (field, file)
                continue
            seen, seen_in = first[field.name]
            if seen.dataType != field.dataType:
                raise InputError(
                    f"{_batch_label(path)}: Parquet files disagree on the type of column {field.name!r}: "
                    f"{seen.dataType.simpleString()} in {_name(seen_in, path)}, "
                    f"{field.dataType.simpleString()} in {_name(file, path)}"
                )
    return T.StructType([field for field, _ in first.values()])


def _spark_read(spark: SparkSession, target: Path, batch: Path) -> DataFrame:
    """``target`` (the batch folder or one file of it) as Spark infers it; a schema Spark rejects (e.g.
    nanosecond timestamps) is an InputError rather than a stack trace."""
    try:
        return spark.read.parquet(str(target))
    except AnalysisException as exc:
        files = "its files" if target == batch else _name(target, batch)
        first_line = str(exc).splitlines()[0]
        raise InputError(
            f"{_batch_label(batch)}: Spark cannot read the Parquet schema of {files}: {first_line}"
        ) from None


def _batch_label(path: Path) -> str:
    """``batch <id> of <source> (<folder>)`` for a folder ``<raw_dir>/<source>/<batch_id>``."""
    return f"batch {path.name} of {path.parent.name} ({path})"


def _name(file: Path, batch: Path) -> str:
    return str(file.relative_to(batch))


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
