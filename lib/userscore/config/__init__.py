"""Layered, strictly typed configuration."""

from userscore.config.loader import load_config
from userscore.config.root import Config
from userscore.config.tables import ColumnSpec, TableSpec

__all__ = ["Config", "ColumnSpec", "TableSpec", "load_config"]
