"""databricks.yml against the code it deploys: the jobs' shape (schedule, chain, retries, notifications,
cluster), that every file it names exists, and that every task's arguments parse with the project's own
CLI parser and load a valid config, once the bundle and dynamic references are substituted as Databricks
would substitute them."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from userscore.catalog import Catalog
from userscore.cli import JOBS, build_parser
from userscore.config import load_config
from userscore.runner import parse_overrides

REPO = Path(__file__).resolve().parents[2]
BUNDLE = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
JOBS_ = BUNDLE["resources"]["jobs"]
RUN_DATE = "2026-11-01"  # what {{job.trigger.time.iso_date}} becomes for a run on that day
BACKFILL_FROM = "2025-11-01"  # a backfill_from given at run time (the default "none" skips the backfill)
TARGETS = {"dev": ("userscore_dev", "databricks_dev"), "prod": ("userscore", "databricks")}


def _variables(target: str) -> dict[str, str]:
    """Bundle variables as the target sees them: its own values over the defaults."""
    values = {name: str(spec.get("default", "")) for name, spec in BUNDLE["variables"].items()}
    values.update({k: str(v) for k, v in BUNDLE["targets"][target].get("variables", {}).items()})
    return values


def _job_parameters(job: str) -> dict[str, str]:
    params = {p["name"]: p["default"] for p in JOBS_[job].get("parameters", [])}
    if "backfill_from" in params:
        params["backfill_from"] = BACKFILL_FROM
    return {k: v.replace("{{job.trigger.time.iso_date}}", RUN_DATE) for k, v in params.items()}


def _substitute(text: str, target: str, job: str) -> str:
    """${var.x} and ${workspace.file_path} as at deploy time, {{job.parameters.x}} as at run time."""
    variables, params = _variables(target), _job_parameters(job)
    # Parameter defaults may hold ${var.x} too (resolved at deploy): insert them first.
    text = re.sub(r"\{\{job\.parameters\.(\w+)\}\}", lambda m: params[m.group(1)], text)
    text = re.sub(r"\$\{var\.(\w+)\}", lambda m: variables[m.group(1)], text)
    text = text.replace("${workspace.file_path}", str(REPO))
    assert "${" not in text and "{{" not in text, f"unresolved reference in {text!r}"
    return text


def _tasks(job: str) -> dict[str, dict]:
    return {t["task_key"]: t for t in JOBS_[job]["tasks"]}


def _python_tasks():
    return [
        (job, key)
        for job in JOBS_
        for key, task in _tasks(job).items()
        if "spark_python_task" in task  # the monthly job's condition task runs no code
    ]


def test_bundle_names_its_targets_with_their_catalog_and_overlay():
    assert BUNDLE["bundle"]["name"] == "userscore"
    assert set(BUNDLE["targets"]) == {"dev", "prod"}
    assert BUNDLE["targets"]["dev"]["mode"] == "development" and BUNDLE["targets"]["dev"]["default"] is True
    assert BUNDLE["targets"]["prod"]["mode"] == "production"
    for target, (catalog, env) in TARGETS.items():
        variables = _variables(target)
        assert (variables["catalog"], variables["conf_env"]) == (catalog, env)
        assert (REPO / "conf" / env).is_dir()
    # Production must be told who to page: no default to deploy with silently.
    assert "default" not in BUNDLE["variables"]["oncall_email"]
    assert _variables("dev")["oncall_email"] == "${workspace.current_user.userName}"


def test_the_artifact_builds_the_wheel_every_task_installs():
    artifact = BUNDLE["artifacts"]["userscore_wheel"]
    assert artifact["type"] == "whl"
    assert artifact["build"] == "bash scripts/package.sh"
    assert (REPO / "scripts" / "package.sh").is_file()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    built = f"./dist/userscore-{version}-py3-none-any.whl"  # the name scripts/package.sh prints
    assert [f["source"] for f in artifact["files"]] == ["./dist/*.whl"]
    assert fnmatch.fnmatch(built, artifact["files"][0]["source"])
    for job, key in _python_tasks():
        assert _tasks(job)[key]["libraries"] == [{"whl": "./dist/*.whl"}], (job, key)


def test_daily_job_chains_ingest_identity_social_and_features_score_then_snapshot_monitor_analyze_and_campaigns():
    job = JOBS_["userscore_daily"]
    assert job["schedule"] == {
        "quartz_cron_expression": "0 30 2 * * ?",
        "timezone_id": "UTC",
        "pause_status": "UNPAUSED",
    }
    assert job["parameters"] == [{"name": "as_of", "default": "{{job.trigger.time.iso_date}}"}]
    assert job["max_concurrent_runs"] == 1
    tasks = _tasks("userscore_daily")
    assert list(tasks) == [
        "ingest", "identity", "social", "features", "score", "snapshot", "monitor", "analyze", "campaigns"
    ]  # fmt: skip
    upstream = {key: [d["task_key"] for d in task.get("depends_on", [])] for key, task in tasks.items()}
    # The analyses wait for the scores only: an alert (monitor exit 3) does not hold them back.
    # Features read the social run of their date (the social family) and, with identity.resolve, the person map.
    assert upstream == {
        "ingest": [],
        "identity": ["ingest"],
        "social": ["ingest"],
        "features": ["identity", "social"],
        "score": ["features"],
        "snapshot": ["score"],
        "monitor": ["score"],
        "analyze": ["score"],
        "campaigns": ["score"],
    }
    retries = {key: (t["max_retries"], t.get("min_retry_interval_millis")) for key, t in tasks.items()}
    assert retries == {
        "ingest": (2, 600000),
        "identity": (2, 600000),
        "social": (2, 600000),
        "features": (2, 600000),
        "score": (2, 600000),
        "snapshot": (2, 600000),
        "monitor": (0, None),
        "analyze": (1, 600000),
        "campaigns": (1, 600000),
    }


def test_monthly_job_backfills_only_when_asked_then_trains_then_fits_btyd():
    job = JOBS_["userscore_monthly"]
    assert job["schedule"] == {
        "quartz_cron_expression": "0 0 12 1 * ?",
        "timezone_id": "UTC",
        "pause_status": "UNPAUSED",
    }
    assert {p["name"]: p["default"] for p in job["parameters"]} == {
        "as_of": "{{job.trigger.time.iso_date}}",
        "backfill_from": "none",
        "backfill_to": "{{job.trigger.time.iso_date}}",
        "backfill_every": "7d",
    }
    tasks = _tasks("userscore_monthly")
    assert tasks["backfill_requested"]["condition_task"] == {
        "op": "NOT_EQUAL",
        "left": "{{job.parameters.backfill_from}}",
        "right": "none",
    }
    # The social runs at the backfill's dates first: the snapshots' social family reads them.
    assert tasks["social_backfill"]["depends_on"] == [{"task_key": "backfill_requested", "outcome": "true"}]
    assert tasks["features_backfill"]["depends_on"] == [{"task_key": "social_backfill"}]
    assert tasks["train"]["depends_on"] == [{"task_key": "backfill_requested"}, {"task_key": "features_backfill"}]
    assert tasks["train"]["run_if"] == "NONE_FAILED"
    assert tasks["btyd"]["depends_on"] == [{"task_key": "train"}]
    assert tasks["uplift"]["depends_on"] == [{"task_key": "train"}]
    retried = ("social_backfill", "features_backfill", "train", "btyd", "uplift")
    assert [tasks[k]["max_retries"] for k in retried] == [1] * 5


def test_forget_job_is_manual_and_takes_a_request_file():
    job = JOBS_["userscore_forget"]
    assert "schedule" not in job and job["max_concurrent_runs"] == 1
    assert [p["name"] for p in job["parameters"]] == ["request_file"]
    assert _tasks("userscore_forget")["forget"]["max_retries"] == 0


def test_stream_job_runs_continuously_without_retries_or_timeout():
    job = JOBS_["userscore_stream"]
    assert job["continuous"] == {"pause_status": "UNPAUSED"} and "schedule" not in job
    assert job["max_concurrent_runs"] == 1 and "timeout_seconds" not in job and "parameters" not in job
    # Databricks restarts a continuous job itself; a retry policy is not allowed there.
    (task,) = job["tasks"]
    assert "max_retries" not in task and "timeout_seconds" not in task and "depends_on" not in task


@pytest.mark.parametrize("job", sorted(JOBS_))
def test_jobs_notify_on_failure_and_on_long_runs(job):
    spec = JOBS_[job]
    (rule,) = spec["health"]["rules"]
    assert rule["op"] == "GREATER_THAN"
    if "continuous" in spec:  # a stream runs forever: it is late when files wait, not when a run is long
        assert spec["email_notifications"] == {
            "on_failure": ["${var.oncall_email}"],
            "on_streaming_backlog_exceeded": ["${var.oncall_email}"],
        }
        assert rule["metric"] == "STREAMING_BACKLOG_SECONDS" and 0 < rule["value"] <= 3600
        return
    assert spec["email_notifications"] == {
        "on_failure": ["${var.oncall_email}"],
        "on_duration_warning_threshold_exceeded": ["${var.oncall_email}"],
    }
    assert rule["metric"] == "RUN_DURATION_SECONDS"
    assert rule["value"] < spec["timeout_seconds"]


@pytest.mark.parametrize("job", sorted(JOBS_))
def test_job_cluster_runs_spark_4_with_the_pii_key_from_the_secret_scope(job):
    (cluster,) = JOBS_[job]["job_clusters"]
    new = cluster["new_cluster"]
    assert new["spark_version"] == "${var.spark_version}"
    assert _variables("prod")["spark_version"] == "17.3.x-scala2.13"
    assert new["data_security_mode"] == "SINGLE_USER"
    # The variable ingest reads the key from (ingest.pii_key_env) is the one the cluster sets.
    env_var = load_config(env="databricks", conf_dir=REPO / "conf").ingest.pii_key_env
    assert new["spark_env_vars"] == {env_var: "{{secrets/${var.secret_scope}/pii-key}}"}
    for key in (t["task_key"] for t in JOBS_[job]["tasks"] if "spark_python_task" in t):
        assert _tasks(job)[key]["job_cluster_key"] == cluster["job_cluster_key"]


# (job, task) -> what the parsed arguments must hold, beyond --env and --conf-dir.
EXPECTED_ARGS = {
    ("userscore_daily", "ingest"): {"batch": None, "source": None, "force": False, "now": None},
    ("userscore_daily", "identity"): {"as_of": dt.date(2026, 11, 1)},
    ("userscore_daily", "social"): {"as_of": dt.date(2026, 11, 1), "start": None, "end": None},
    ("userscore_daily", "features"): {"as_of": dt.date(2026, 11, 1), "start": None, "end": None},
    ("userscore_daily", "score"): {"as_of": RUN_DATE, "scored_at": None},  # score parses dates itself ('latest')
    ("userscore_daily", "snapshot"): {"as_of": RUN_DATE},  # parsed by the job ('latest' or a date)
    ("userscore_daily", "monitor"): {"as_of": dt.date(2026, 11, 1), "fail_on_alert": True, "no_mlflow": False},
    ("userscore_daily", "analyze"): {"as_of": dt.date(2026, 11, 1), "report": None},
    ("userscore_daily", "campaigns"): {"as_of": dt.date(2026, 11, 1), "report": None},
    ("userscore_monthly", "social_backfill"): {
        "as_of": None,
        "start": dt.date(2025, 11, 1),
        "end": dt.date(2026, 11, 1),
        "every": "7d",
    },
    ("userscore_monthly", "features_backfill"): {
        "as_of": None,
        "start": dt.date(2025, 11, 1),
        "end": dt.date(2026, 11, 1),
        "every": "7d",
    },
    ("userscore_monthly", "train"): {"all": True, "target": [], "cutoff": None},
    ("userscore_monthly", "btyd"): {"as_of": dt.date(2026, 11, 1), "no_register": False},
    ("userscore_monthly", "uplift"): {"all": True, "type": [], "cutoff": None},
    ("userscore_forget", "forget"): {"request_file": "/Volumes/{catalog}/raw/landing/_erasure/requests.csv"},
    ("userscore_stream", "stream"): {"available_now": False, "now": None, "timeout": None},
}


def test_every_python_task_is_listed_with_its_expected_arguments():
    assert sorted(_python_tasks()) == sorted(EXPECTED_ARGS)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize(("job", "key"), sorted(EXPECTED_ARGS))
def test_task_arguments_parse_with_the_cli_and_load_the_targets_config(target, job, key):
    task = _tasks(job)[key]["spark_python_task"]
    script = REPO / task["python_file"]
    assert script.is_file()
    command = script.stem
    assert command in JOBS
    # The script must run that sub-command (jobs/<job>.py: main(["<job>", *sys.argv[1:]])).
    assert f'main(["{command}", *sys.argv[1:]])' in script.read_text(encoding="utf-8")

    argv = [_substitute(str(p), target, job) for p in task["parameters"]]
    args = build_parser().parse_args([command, *argv])
    catalog, env = TARGETS[target]
    assert (args.command, args.env, Path(args.conf_dir)) == (command, env, REPO / "conf")
    for name, value in EXPECTED_ARGS[(job, key)].items():
        expected = value.format(catalog=catalog) if isinstance(value, str) else value  # the target's catalog
        assert getattr(args, name) == expected, name

    config = load_config(env=args.env, conf_dir=args.conf_dir, overrides=parse_overrides(args.set))
    assert (config.catalog.mode, config.catalog.catalog) == ("metastore", catalog)
    assert Catalog(None, config).location("scores.user_scores") == f"{catalog}.scores.user_scores"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_schemas_and_volumes_hold_every_table_and_path_the_overlay_uses(target):
    catalog, env = TARGETS[target]
    config = load_config(env=env, conf_dir=REPO / "conf")
    schemas = BUNDLE["resources"]["schemas"]
    for key, spec in schemas.items():
        assert set(spec) == {"catalog_name", "name", "comment"} and spec["name"] == key, spec
    assert {s["catalog_name"] for s in schemas.values()} == {"${var.catalog}"}
    layers = {name.split(".", 1)[0] for name in config.tables}
    assert {s["name"] for s in schemas.values()} == layers | {"models", "raw"}
    assert config.models.tracking.model_prefix == f"{catalog}.models."
    assert config.btyd.model_name == f"{catalog}.models.btyd"

    volumes = set()
    for spec in BUNDLE["resources"]["volumes"].values():
        schema_ref = re.fullmatch(r"\$\{resources\.schemas\.(\w+)\.name\}", spec["schema_name"])
        assert schema_ref and spec["catalog_name"] == "${var.catalog}" and spec["volume_type"] == "MANAGED"
        volumes.add((catalog, schemas[schema_ref.group(1)]["name"], spec["name"]))
    paths = {
        "ingest.raw_dir": config.ingest.raw_dir,
        "generate.raw_dir": config.generate.raw_dir,
        "models.checkpoint_dir": config.models.checkpoint_dir,
        "models.tracking.dfs_tmpdir": config.models.tracking.dfs_tmpdir,
        "monitor.report.dir": config.monitor.report.dir,
        "analysis.report_dir": config.analysis.report_dir,
        "campaigns.report_dir": config.campaigns.report_dir,
        "serving.snapshot.root": config.serving.snapshot.root,
        "stream.checkpoint": config.stream.checkpoint,
    }
    for key, path in paths.items():
        parts = Path(path).parts  # ('/', 'Volumes', catalog, schema, volume, ...)
        assert parts[:2] == ("/", "Volumes") and tuple(parts[2:5]) in volumes, (key, path)
