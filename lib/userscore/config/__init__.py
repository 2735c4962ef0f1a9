"""Layered, strictly typed configuration."""

from userscore.config.loader import deep_merge, load_config
from userscore.config.root import Config
from userscore.config.tables import ColumnSpec, TableSpec

__all__ = ["Config", "ColumnSpec", "TableSpec", "deep_merge", "load_config"]
