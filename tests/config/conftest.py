"""Fixtures of the config tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import REPO


@pytest.fixture
def conf(tmp_path) -> Path:
    """A private copy of the project's conf/ that a test may break."""
    target = tmp_path / "conf"
    shutil.copytree(REPO / "conf", target)
    return target
