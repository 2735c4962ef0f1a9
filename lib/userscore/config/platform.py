"""Config sections for where jobs run: the Spark session and the table catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Literal

from userscore.config.typed import frozen


@frozen
class SparkConfig:
    """How the one SparkSession is obtained.

    mode: ``local`` builds a local session with Delta and the fetched JARs; ``submit`` takes what
    spark-submit configured; ``databricks`` uses the session the platform already runs.
    """

    mode: Literal["local", "submit", "databricks"]
    master: str
    app_name: str
    jars_dir: str
    log_level: str
    conf: Mapping[str, str] = field(default_factory=dict)


@frozen
class CatalogConfig:
    """Where ``<layer>.<name>`` tables live.

    ``path`` mode: a Delta table at ``<root>/<layer>/<name>``. ``metastore`` mode: a table named
    ``<catalog>.<layer>.<name>`` (Unity Catalog on Databricks), with optional per-layer schema names.
    """

    mode: Literal["path", "metastore"]
    root: str
    catalog: str | None = None
    schemas: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.mode == "metastore" and not self.catalog:
            raise ValueError("catalog: required when mode is 'metastore'")


@frozen
class ObservabilityConfig:
    """Job logging."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
