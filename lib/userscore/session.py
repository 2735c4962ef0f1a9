"""The one place a SparkSession is obtained.

local: builds ``local[*]`` with the Delta extensions and the JARs fetched by scripts/fetch_jars.sh.
submit: takes what spark-submit configured (master, JARs, resources) and adds only SQL settings.
databricks: uses the session the platform already runs.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from userscore.config.platform import SparkConfig
from userscore.errors import InputError


def _delta_jars(jars_dir: Path) -> list[str]:
    jars = sorted(glob.glob(str(jars_dir / "*.jar")))
    if not any(Path(j).name.startswith("delta-spark_") for j in jars):
        raise InputError(f"Delta Lake JARs not found in {jars_dir}: run `bash scripts/fetch_jars.sh` (or `make setup`)")
    return jars


def get_spark(config: SparkConfig, root: Path) -> SparkSession:
    """Return the session for ``config.mode``; settings come from the config's ``conf`` mapping."""
    # pandas-on-Spark and Arrow conversions need this set before the JVM starts (PySpark warns otherwise).
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python workers (pandas UDFs: BTYD scoring) must run this interpreter, which has userscore and its
    # pinned dependencies, not whatever ``python3`` is first on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if config.mode == "local":
        jars_dir = Path(config.jars_dir) if Path(config.jars_dir).is_absolute() else root / config.jars_dir
        builder = (
            SparkSession.builder.master(config.master)
            .appName(config.app_name)
            .config("spark.jars", ",".join(_delta_jars(jars_dir)))
        )
        for key, value in config.conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    else:
        spark = SparkSession.getActiveSession() or SparkSession.builder.appName(config.app_name).getOrCreate()
        # Only SQL settings can change on a running session; the rest belongs to spark-submit/the cluster.
        for key, value in config.conf.items():
            if key.startswith("spark.sql.") and not key.startswith(("spark.sql.extensions", "spark.sql.catalog")):
                spark.conf.set(key, value)
    spark.sparkContext.setLogLevel(config.log_level)
    return spark


@contextmanager
def runtime_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Runtime settings of the session for one block, the previous values (or none) restored after."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
