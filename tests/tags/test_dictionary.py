"""The tag dictionary: loaded from conf with its governance fields; `userscore tags list|show ID`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import make_config
from userscore.cli import main
from userscore.errors import InputError
from userscore.tags import load_dictionary

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("name", "category", "definition", "owner", "refresh", "sensitivity", "description")


@pytest.fixture(scope="module")
def raw_tags() -> dict:
    """conf/base/tags.yaml read as plain YAML (not through the code under test)."""
    return yaml.safe_load((REPO / "conf" / "base" / "tags.yaml").read_text())["tags"]["dictionary"]


def test_dictionary_is_realistic_and_complete(raw_tags):
    assert 15 <= len(raw_tags) <= 25
    assert {t["category"] for t in raw_tags.values()} >= {"value", "risk", "preference", "lifecycle", "engagement"}
    for tag_id, tag in raw_tags.items():
        assert set(tag) == set(FIELDS), tag_id
        assert all(str(tag[f]).strip() for f in FIELDS), tag_id


def test_loaded_dictionary_keeps_config_order_and_fields(tmp_path, raw_tags):
    dictionary = load_dictionary(make_config(tmp_path).tags)
    assert dictionary.ids == tuple(raw_tags)
    spend = dictionary.get("spend_band")
    assert (spend.name, spend.category, spend.kind, spend.owner, spend.refresh, spend.sensitivity) == (
        "12-month spend band", "value", "bins", "crm-analytics", "daily", "confidential",
    )  # fmt: skip
    assert spend.definition_text == (
        "monetary_365d: none < 0.01, 0.01 <= low < 200, 200 <= mid < 1000, 1000 <= high < 5000, top >= 5000"
    )
    assert dictionary.get("high_value").definition_text == "value_score >= 80"
    assert dictionary.get("churn_risk").kind == "column"
    with pytest.raises(InputError, match="no tag 'nope' in the tag dictionary"):
        dictionary.get("nope")


def test_tags_list_prints_every_tag_by_category(capsys, raw_tags):
    assert main(["tags", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[1] for line in out if len(line.split()) > 1 and line.split()[1] in raw_tags]
    expected_order = sorted(raw_tags, key=lambda t: (raw_tags[t]["category"], t))
    assert listed == expected_order
    assert f"  {len(raw_tags)} tags" in out
    spend = next(line for line in out if " spend_band " in line).split()
    assert spend[0] == "value" and spend[-3:] == ["daily", "confidential", "crm-analytics"]


def test_tags_show_prints_every_field_and_unknown_id_exits_2(capsys, raw_tags):
    assert main(["tags", "show", "recall_candidate"]) == 0
    out = capsys.readouterr().out
    tag = raw_tags["recall_candidate"]
    assert f"  definition:  {tag['definition']['rule']}\n" in out
    for field in ("name", "category", "owner", "refresh", "sensitivity", "description"):
        assert f"  {field + ':':<13}{tag[field]}\n" in out
    assert main(["tags", "show", "no_such_tag"]) == 2
    assert "no tag 'no_such_tag'" in capsys.readouterr().out
    assert main(["tags", "show"]) == 2
