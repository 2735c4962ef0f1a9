"""Layered config: merge order, typed parsing, and every error path naming file, key, found, expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from userscore.cli import main
from userscore.config import load_config
from userscore.errors import ConfigError


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_env_overlay_wins_over_base_and_overrides_win_over_both(conf):
    _write(conf / "local" / "generate.yaml", "generate:\n  users: 500\n  seed: 7\n")
    config = load_config(env="local", conf_dir=conf, overrides={"generate": {"seed": 9}})
    assert (config.generate.users, config.generate.seed) == (500, 9)
    # Untouched keys keep their base values, merged key by key (base and overlay spark.conf both count).
    base, local = _yaml(conf / "base" / "generate.yaml"), _yaml(conf / "local" / "spark.yaml")
    assert config.generate.end_date == base["generate"]["end_date"]
    base_conf = _yaml(conf / "base" / "spark.yaml")["spark"]["conf"]
    assert dict(config.spark.conf) == {**base_conf, **local["spark"]["conf"]}
    assert config.env == "local" and config.root == str(conf.parent)


def test_env_comes_from_the_environment_variable(conf, monkeypatch):
    _write(conf / "databricks" / "zz_test.yaml", "catalog:\n  catalog: test_catalog\n")
    monkeypatch.setenv("USERSCORE_ENV", "databricks")
    config = load_config(conf_dir=conf)
    assert (config.env, config.catalog.catalog) == ("databricks", "test_catalog")


def test_config_objects_are_frozen(conf):
    config = load_config(env="local", conf_dir=conf)
    with pytest.raises(AttributeError):
        config.generate.users = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.tables["silver.orders"] = None  # type: ignore[index]


def _error(conf, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf, **kwargs)
    return caught.value


def test_unknown_key_names_file_key_and_known_keys(conf):
    path = _write(conf / "local" / "generate.yaml", "generate:\n  userz: 500\n")
    err = _error(conf)
    assert (err.file, err.key_path, err.found) == (str(path), "generate.userz", "unknown key 'userz'")
    assert "users" in err.expected and "seed" in err.expected
    assert str(err).startswith(f"config error in {path} at generate.userz: found unknown key 'userz'; expected one of:")


def test_wrong_type_names_what_was_found_and_expected(conf):
    path = _write(conf / "local" / "generate.yaml", "generate:\n  users: lots\n")
    err = _error(conf)
    assert (err.file, err.key_path, err.found, err.expected) == (
        str(path),
        "generate.users",
        "'lots' (str)",
        "an integer",
    )


def test_boolean_is_not_accepted_as_a_number(conf):
    _write(conf / "local" / "generate.yaml", "generate:\n  bad_record_share: true\n")
    err = _error(conf)
    assert (err.key_path, err.found, err.expected) == ("generate.bad_record_share", "True (bool)", "a number")


def test_wrong_literal_lists_the_choices(conf):
    path = _write(conf / "local" / "spark.yaml", "spark:\n  mode: yarn\n")
    err = _error(conf)
    assert (err.file, err.key_path, err.found) == (str(path), "spark.mode", "'yarn' (str)")
    assert err.expected == "one of 'local', 'submit', 'databricks'"


def test_missing_required_key(conf):
    _write(conf / "base" / "extra_table.yaml", "tables:\n  silver.extra:\n    columns: []\n")
    err = _error(conf)
    assert (err.file, err.key_path, err.found) == (
        str(conf / "base" / "extra_table.yaml"),
        "tables.silver.extra.description",
        "missing key 'description'",
    )
    assert err.expected == "required key 'description': a string"


def test_value_check_in_a_section_points_at_its_key(conf):
    _write(conf / "local" / "generate.yaml", "generate:\n  bad_record_share: 0.9\n")
    err = _error(conf)
    assert (err.key_path, err.found) == ("generate.bad_record_share", "0.9 (float)")
    assert err.expected == "a number in [0, 0.5)"


def test_reference_to_an_undefined_table(conf):
    path = _write(conf / "local" / "ingest.yaml", "ingest:\n  sources:\n    orders:\n      table: silver.orderz\n")
    err = _error(conf)
    assert (err.file, err.key_path, err.found) == (
        str(path),
        "ingest.sources.orders.table",
        "undefined table 'silver.orderz'",
    )
    assert "'silver.orders'" in err.expected


def test_reference_to_an_undefined_column(conf):
    path = _write(
        conf / "local" / "ingest.yaml", "ingest:\n  sources:\n    orders:\n      ranges:\n        amout: {min: 0}\n"
    )
    err = _error(conf)
    assert (err.file, err.key_path, err.found) == (
        str(path),
        "ingest.sources.orders.ranges.amout",
        "undefined column 'amout' of silver.orders",
    )
    assert "'amount'" in err.expected


def test_partition_column_must_be_declared(conf):
    path = _write(
        conf / "base" / "extra_table.yaml",
        (
            "tables:\n  ops.extra:\n    description: x\n    partition_by: [day]\n"
            "    columns:\n      - {name: id, type: string}\n"
        ),
    )
    err = _error(conf)
    assert (err.file, err.key_path) == (str(path), "tables.ops.extra.partition_by")
    assert err.expected == "columns declared in 'columns', got undefined ['day']"


def test_invalid_yaml_and_unknown_env(conf, tmp_path):
    path = _write(conf / "local" / "generate.yaml", "generate: [unclosed\n")
    err = _error(conf)
    assert (err.file, err.key_path) == (str(path), "<file>")
    assert err.found.startswith("invalid YAML")
    for folder in ("base", "prod", "dev"):
        (tmp_path / "two_envs" / folder).mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"no overlay folder for env 'staging'; expected one of \['dev', 'prod'\]"):
        load_config(env="staging", conf_dir=tmp_path / "two_envs")


def test_job_exits_2_with_the_message_before_touching_data(conf, tmp_path, capsys):
    _write(conf / "local" / "generate.yaml", "generate:\n  users: lots\n")
    raw = tmp_path / "raw"
    code = main(["generate", "--conf-dir", str(conf), "--set", f"generate.raw_dir={raw}"])
    out = capsys.readouterr().out
    assert code == 2
    assert (
        f"config error in {conf / 'local' / 'generate.yaml'} at generate.users: found 'lots' (str); expected an integer"
        in out
    )
    assert not raw.exists() and not (conf.parent / "warehouse").exists()


def test_bad_override_syntax_exits_2(capsys):
    assert main(["generate", "--set", "generate.users"]) == 2
    assert "--set expects key.path=value, got 'generate.users'" in capsys.readouterr().out
