"""userscore.notebook: parameters, config and root resolved locally (name=value arguments) and on
Databricks (widgets, conf/ found above the notebook), with the session factory replaced by a recorder."""

from __future__ import annotations

from pathlib import Path

import pytest

from userscore.errors import InputError
from userscore.notebook import find_conf_dir, local_arguments, open_notebook

REPO = Path(__file__).resolve().parents[1]


class Widgets:
    """dbutils.widgets as a notebook sees it: text() declares a widget, get() reads what the job set."""

    def __init__(self, set_by_job: dict[str, str]):
        self.declared: dict[str, str] = {}
        self._set = set_by_job

    def text(self, name: str, default: str) -> None:
        self.declared[name] = default

    def get(self, name: str) -> str:
        return self._set.get(name, self.declared[name])


class DBUtils:
    def __init__(self, set_by_job: dict[str, str]):
        self.widgets = Widgets(set_by_job)


@pytest.fixture
def sessions(monkeypatch):
    """Record get_spark's arguments instead of starting Spark."""
    calls = []

    def fake_get_spark(config, root):
        calls.append((config.mode, Path(root)))
        return "session"

    monkeypatch.setattr("userscore.session.get_spark", fake_get_spark)
    return calls


def test_local_arguments_override_defaults_and_root_moves_only_the_data(monkeypatch, tmp_path, sessions):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.delenv("USERSCORE_ENV", raising=False)
    nb = open_notebook(
        {"user_id": "", "as_of": ""}, argv=["user_id=u-000008", f"root={tmp_path}", f"conf_dir={REPO / 'conf'}"]
    )
    assert dict(nb.params) == {"env": "local", "user_id": "u-000008", "as_of": ""}
    assert nb.config.env == "local" and Path(nb.config.root) == tmp_path
    assert nb.catalog.location("scores.user_scores") == str(tmp_path / "warehouse" / "scores" / "user_scores")
    # The session is built from the checkout (its .jars/), not from the data root.
    assert sessions == [("local", REPO)]


def test_unknown_local_argument_names_the_accepted_ones():
    with pytest.raises(InputError, match=r"'usr=u1'.*\['as_of', 'conf_dir', 'env', 'root', 'user_id'\]"):
        local_arguments(["usr=u1"], ["env", "user_id", "as_of", "root", "conf_dir"])
    with pytest.raises(InputError, match="expected name=value"):
        local_arguments(["u1"], ["user_id"])


def test_on_databricks_widgets_carry_the_parameters_and_conf_is_found_above_the_notebook(monkeypatch, sessions):
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    monkeypatch.chdir(REPO / "notebooks")
    dbutils = DBUtils({"as_of": "2026-11-01"})
    nb = open_notebook({"user_id": "", "as_of": ""}, dbutils)
    assert dbutils.widgets.declared == {"env": "databricks", "user_id": "", "as_of": ""}
    assert dict(nb.params) == {"env": "databricks", "user_id": "", "as_of": "2026-11-01"}
    assert nb.config.env == "databricks" and Path(nb.config.root) == REPO
    assert nb.catalog.location("scores.user_scores") == "userscore.scores.user_scores"
    assert sessions == [("databricks", REPO)]


def test_conf_dir_is_the_nearest_with_a_base_folder(tmp_path):
    (tmp_path / "project" / "conf" / "base").mkdir(parents=True)
    (tmp_path / "project" / "notebooks" / "deep").mkdir(parents=True)
    assert find_conf_dir(tmp_path / "project" / "notebooks" / "deep") == tmp_path / "project" / "conf"
    assert find_conf_dir(tmp_path) is None
