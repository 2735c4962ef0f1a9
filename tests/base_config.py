"""Config objects for tests, built from conf/base: settings a test does not vary come from the loaded YAML,
never from Python copies of it."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from tests.conftest import REPO
from userscore.config import Config, load_config
from userscore.config.bands import Band
from userscore.config.models import PopulationRule, TargetConfig

# Tests that check tier metrics by hand cut at 0.3 and 0.7 (p >= bound).
TEST_TIERS = (Band(name="high", min=0.7), Band(name="mid", min=0.3), Band(name="low"))


@functools.cache
def base_config() -> Config:
    """conf/base with the local overlay, as a job loads it."""
    return load_config(env="local", conf_dir=REPO / "conf")


def target_config(**fields: Any) -> TargetConfig:
    """A target with ``fields`` set and every training setting from ``models.defaults``; population
    ``all`` and the test tiers unless given."""
    defaults = base_config().models.defaults
    values = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    values |= {"population": PopulationRule(kind="all"), "tiers": TEST_TIERS}
    return TargetConfig(**(values | fields))


def replaced(value: Any, **changes: Any) -> Any:
    """A config object from conf/base (``value``) with ``changes``."""
    return dataclasses.replace(value, **changes)
