"""The tag dictionary: loaded from conf with its governance fields; `userscore tags list|show ID`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import make_config
from userscore.cli import main
from userscore.config.tags import TagsConfig
from userscore.config.typed import Origins, parse_dataclass
from userscore.errors import InputError
from userscore.tags import load_dictionary

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("name", "category", "definition", "owner", "refresh", "sensitivity", "description")


@pytest.fixture(scope="module")
def raw_tags() -> dict:
    """conf/base/tags.yaml read as plain YAML (not through the code under test)."""
    return yaml.safe_load((REPO / "conf" / "base" / "tags.yaml").read_text())["tags"]["dictionary"]


def _tag(definition: dict, **fields: str) -> dict:
    governance = {"name": "A tag", "category": "value", "owner": "crm", "refresh": "daily", "sensitivity": "internal"}
    return {**governance, "description": "For the test.", **fields, "definition": definition}


def test_a_tag_added_by_an_overlay_is_one_more_tag_with_its_governance_fields(tmp_path, raw_tags):
    extra = {"weekend_shopper": _tag({"rule": "recency_days < 7"}, name="Weekend shopper", owner="growth")}
    dictionary = load_dictionary(make_config(tmp_path, {"tags": {"dictionary": extra}}).tags)
    assert dictionary.ids == (*raw_tags, "weekend_shopper")
    tag = dictionary.get("weekend_shopper")
    assert (tag.name, tag.category, tag.kind, tag.owner, tag.definition_text) == (
        "Weekend shopper", "value", "rule", "growth", "recency_days < 7",
    )  # fmt: skip


def test_loaded_dictionary_keeps_config_order_and_fields(tmp_path, raw_tags):
    dictionary = load_dictionary(make_config(tmp_path).tags)
    assert dictionary.ids == tuple(raw_tags)
    for tag_id, raw in raw_tags.items():
        tag = dictionary.get(tag_id)
        assert tuple(getattr(tag, f) for f in FIELDS if f != "definition") == tuple(
            raw[f] for f in FIELDS if f != "definition"
        )
    with pytest.raises(InputError, match="no tag 'nope' in the tag dictionary"):
        dictionary.get("nope")


def test_definitions_print_as_one_line(tmp_path):
    bins = {"column": "monetary_365d", "bins": {"edges": [0.01, 200, 1000], "labels": ["none", "low", "mid", "top"]}}
    tags = {"band": _tag(bins), "rule": _tag({"rule": "value_score >= 80"}), "col": _tag({"column": "churn_tier"})}
    config = parse_dataclass(TagsConfig, {"dictionary": tags}, ("tags",), Origins())
    dictionary = load_dictionary(config)
    assert [(t, dictionary.get(t).kind, dictionary.get(t).definition_text) for t in tags] == [
        ("band", "bins", "monetary_365d: none < 0.01, 0.01 <= low < 200, 200 <= mid < 1000, top >= 1000"),
        ("rule", "rule", "value_score >= 80"),
        ("col", "column", "churn_tier"),
    ]


def test_tags_list_prints_every_tag_by_category(capsys, raw_tags):
    assert main(["tags", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[1] for line in out if len(line.split()) > 1 and line.split()[1] in raw_tags]
    expected_order = sorted(raw_tags, key=lambda t: (raw_tags[t]["category"], t))
    assert listed == expected_order
    assert f"  {len(raw_tags)} tags" in out
    first_id, first = next(iter(raw_tags.items()))
    line = next(line for line in out if f" {first_id} " in line).split()
    assert line[0] == first["category"] and line[-3:] == [first["refresh"], first["sensitivity"], first["owner"]]


def test_tags_show_prints_every_field_and_unknown_id_exits_2(capsys, raw_tags):
    tag_id = next(t for t, raw in raw_tags.items() if "rule" in raw["definition"])
    assert main(["tags", "show", tag_id]) == 0
    out = capsys.readouterr().out
    tag = raw_tags[tag_id]
    assert f"  definition:  {tag['definition']['rule']}\n" in out
    for field in ("name", "category", "owner", "refresh", "sensitivity", "description"):
        assert f"  {field + ':':<13}{tag[field]}\n" in out
    assert main(["tags", "show", "no_such_tag"]) == 2
    assert "no tag 'no_such_tag'" in capsys.readouterr().out
    assert main(["tags", "show"]) == 2
