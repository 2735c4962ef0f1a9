"""analysis.inputs is the one place the analyses' input tables are named (no Spark)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import REPO
from userscore.config.analysis import reference_errors

INPUT_KEYS = ("events", "orders", "users", "scores", "features", "segments")


def _tables_named(node: object, at: tuple[str, ...], tables: set[str]) -> Iterator[tuple[str, str]]:
    """(key path, table) for every value (or list item) under ``node`` that is a declared table."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _tables_named(value, (*at, str(key)), tables)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _tables_named(value, (*at, str(i)), tables)
    elif isinstance(node, str) and node in tables:
        yield ".".join(at), node


def test_no_analysis_section_names_a_table_it_reads(config):
    # Outside analysis.inputs, every environment's analysis YAML names only its own analysis.* outputs.
    named = []
    for path in sorted(REPO.glob("conf/*/analysis*.yaml")):
        analysis = dict((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("analysis", {}))
        analysis.pop("inputs", None)
        named += [
            f"{path.relative_to(REPO)}: {key} = {table}"
            for key, table in _tables_named(analysis, ("analysis",), set(config.tables))
            if not table.startswith("analysis.")
        ]
    assert named == []


@pytest.mark.parametrize("key", INPUT_KEYS)
def test_an_undefined_input_is_reported_once_at_its_key(config, key):
    analysis = dataclasses.replace(
        config.analysis, inputs=dataclasses.replace(config.analysis.inputs, **{key: "silver.nowhere"})
    )
    errors = [
        (".".join(path), found)
        for path, found, _ in reference_errors(analysis, config.tables, config.segments.families)
    ]
    assert errors == [(f"analysis.inputs.{key}", "undefined table 'silver.nowhere'")]
