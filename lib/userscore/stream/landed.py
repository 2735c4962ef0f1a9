"""Which landed batches a micro-batch's new files belong to: ``<raw_dir>/<source folder>/<batch_id>/...``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse


def local_path(uri: str) -> PurePosixPath:
    """A file URI as Spark lists it (``file:/a/b``, ``file:///a/b``, or a bare path) as a path."""
    parsed = urlparse(uri)
    return PurePosixPath(unquote(parsed.path if parsed.scheme else uri))


def landed_batches(paths: Iterable[str], raw_dir: Path, folders: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """batch_id -> the sources with new files in that batch (in ``folders`` order), batches sorted.

    Args:
        folders: source name -> its folder under ``raw_dir`` (ingest.sources.<s>.path).
    Files outside every ``<folder>/<batch_id>/`` are not batches and are left out.
    """
    root = PurePosixPath(Path(raw_dir).resolve().as_posix())
    by_folder = {folder: name for name, folder in folders.items()}
    seen: dict[str, set[str]] = {}
    for uri in paths:
        try:
            parts = local_path(uri).relative_to(root).parts
        except ValueError:
            continue
        if len(parts) >= 3 and parts[0] in by_folder:
            seen.setdefault(parts[1], set()).add(by_folder[parts[0]])
    order = list(folders)
    return {batch: tuple(sorted(names, key=order.index)) for batch, names in sorted(seen.items())}
