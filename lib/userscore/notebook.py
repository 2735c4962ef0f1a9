"""What a notebook needs, on Databricks or in a local Python process: the session, config, catalog and
its parameters, from one call, so that nothing else in a notebook differs between the two places.

On Databricks (``DATABRICKS_RUNTIME_VERSION`` is set) parameters are text widgets showing their defaults
(a job run sets them), the session is the platform's and the overlay defaults to ``databricks``; the conf/
folder is found above the notebook (the bundle deploys both). Locally parameters are ``name=value``
command-line arguments, the overlay is $USERSCORE_ENV or ``local`` and the session is built by
userscore.session.get_spark; ``root=PATH`` points relative paths (warehouse/, mlflow.db) at another
project folder, ``conf_dir=PATH`` at another conf/.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from userscore.config import Config, load_config
from userscore.config.loader import ENV_VARIABLE, default_conf_dir
from userscore.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from userscore.catalog import Catalog

# Local-only arguments besides every notebook's ``env`` and its own parameters.
LOCAL_ONLY = ("root", "conf_dir")


@dataclass(frozen=True)
class Notebook:
    """The session, the parsed config, the table catalog and the parameter values of one notebook run."""

    spark: SparkSession
    config: Config
    catalog: Catalog
    params: Mapping[str, str]


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def find_conf_dir(start: Path) -> Path | None:
    """The nearest ``conf/`` with a ``base/`` folder at or above ``start``."""
    for folder in (start, *start.parents):
        if (folder / "conf" / "base").is_dir():
            return folder / "conf"
    return None


def local_arguments(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """``["user_id=u1", ...]`` -> ``{"user_id": "u1"}``; an unknown name or a bare word is an InputError."""
    values: dict[str, str] = {}
    for item in argv:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            raise InputError(f"notebook argument {item!r}: expected name=value with a name in {sorted(names)}")
        values[name] = value
    return values


def open_notebook(params: Mapping[str, str], dbutils=None, argv: Sequence[str] | None = None) -> Notebook:
    """Parameters (widgets or ``name=value`` arguments over ``params``' defaults), config, session, catalog.

    Args:
        params: the notebook's own parameters and their defaults ("" usually means "the newest").
        dbutils: the notebook's ``dbutils`` on Databricks (widgets); ignored locally.
        argv: local arguments (default ``sys.argv[1:]``).
    """
    from userscore.catalog import Catalog
    from userscore.session import get_spark

    databricks = on_databricks()
    defaults = {"env": "databricks" if databricks else os.environ.get(ENV_VARIABLE) or "local", **params}
    if databricks:
        values = _widgets(defaults, dbutils)
        conf_dir = find_conf_dir(Path.cwd())
        if conf_dir is None:
            raise InputError(f"no conf/base folder at or above {Path.cwd()}: deploy the bundle (conf/ and notebooks/)")
        root = checkout = conf_dir.parent
    else:
        given = local_arguments(sys.argv[1:] if argv is None else argv, [*defaults, *LOCAL_ONLY])
        values = {name: given.get(name, default) for name, default in defaults.items()}
        conf_dir = Path(given["conf_dir"]) if "conf_dir" in given else default_conf_dir()
        checkout = conf_dir.resolve().parent
        root = Path(given["root"]) if "root" in given else checkout
    config = load_config(env=values["env"], conf_dir=conf_dir, root=root)
    # The checkout holds the fetched Delta JARs (.jars/) even when the data lives under another root.
    spark = get_spark(config.spark, checkout)
    return Notebook(spark, config, Catalog(spark, config), values)


def _widgets(defaults: Mapping[str, str], dbutils) -> dict[str, str]:
    if dbutils is None:
        from pyspark.dbutils import DBUtils  # Databricks Runtime only
        from pyspark.sql import SparkSession

        dbutils = DBUtils(SparkSession.getActiveSession())
    for name, default in defaults.items():
        dbutils.widgets.text(name, default)
    return {name: dbutils.widgets.get(name) for name in defaults}
