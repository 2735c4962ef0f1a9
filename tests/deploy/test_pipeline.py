"""The pipeline declared in userscore.pipeline against the places that restate it by hand: the Databricks
bundle's scheduled jobs (tasks, their order, their arguments) and the README (stage table, spark-submit
lines). The demo and the cluster tests build their stage lists from the declaration itself."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import pytest
import yaml

from userscore import pipeline
from userscore.config import load_config
from userscore.jobs import demo

REPO = Path(__file__).resolve().parents[2]
BUNDLE = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
README = (REPO / "README.md").read_text(encoding="utf-8")
PARAM = "{{{{job.parameters.{}}}}}".format  # a Databricks job parameter reference, as written in the bundle
# The bundle's values of the declared arguments, per scheduled job: the daily run snapshots its run date,
# the monthly one backfills a range; both run every target.
BUNDLE_VALUES = {
    "userscore_daily": {"snapshots": pipeline.one_snapshot(PARAM("as_of")), "as_of": PARAM("as_of")},
    "userscore_monthly": {
        "snapshots": pipeline.snapshot_range(PARAM("backfill_from"), PARAM("backfill_to"), PARAM("backfill_every")),
        "targets": pipeline.ALL_TARGETS,
        "as_of": PARAM("as_of"),
    },
}
# Operational options a task adds after the declared arguments.
BUNDLE_OPTIONS = {("userscore_daily", "monitor"): ["--fail-on-alert"]}
COMMON = ["--env", "${var.conf_env}", "--conf-dir", "${workspace.file_path}/conf"]
NOT_PIPELINE = {"userscore_forget", "userscore_stream"}  # erasure requests (by hand), the continuous stream


def _python_tasks(job: str) -> list[tuple[str, str, list[str]]]:
    """(task key, job run, parameters) of a bundle job's Python tasks, in the order the file lists them."""
    return [
        (t["task_key"], Path(t["spark_python_task"]["python_file"]).stem, list(t["spark_python_task"]["parameters"]))
        for t in BUNDLE["resources"]["jobs"][job]["tasks"]
        if "spark_python_task" in t
    ]


def test_the_bundle_schedules_every_deployed_stage_in_pipeline_order():
    assert set(BUNDLE["resources"]["jobs"]) - NOT_PIPELINE == set(BUNDLE_VALUES)
    scheduled = []
    for job in BUNDLE_VALUES:
        jobs = [run for _, run, _ in _python_tasks(job)]
        assert pipeline.in_order(jobs), (job, jobs)
        scheduled += jobs
    assert set(scheduled) == {s.job for s in pipeline.STAGES if not s.synthetic}


@pytest.mark.parametrize("job", sorted(BUNDLE_VALUES))
def test_bundle_task_arguments_are_the_declared_ones(job):
    for key, run, parameters in _python_tasks(job):
        expected = [*COMMON, *pipeline.argv(run, BUNDLE_VALUES[job]), *BUNDLE_OPTIONS.get((job, key), [])]
        assert parameters == expected, (job, key)


def test_readme_lists_the_stages_in_order():
    table = re.findall(r"^\| (\w+) \| .* \|$", README, flags=re.MULTILINE)
    assert table[table.index("stage") + 1 :] == list(pipeline.JOBS)


def test_readme_spark_submit_lines_are_the_demos_commands():
    lines = [shlex.split(m) for m in re.findall(r"^bash scripts/submit\.sh (.+)$", README, flags=re.MULTILINE)]
    end = load_config(env="local", conf_dir=REPO / "conf").generate.end_date
    expected = [[job, *argv] for job, argv in pipeline.commands(demo.values(end), synthetic=True)]
    assert lines == expected


def test_argv_fills_templates_and_names_a_missing_value():
    assert pipeline.argv("features", {"snapshots": pipeline.one_snapshot(dt.date(2026, 1, 1))}) == [
        "--as-of",
        "2026-01-01",
    ]
    assert pipeline.argv("train", {"targets": pipeline.some_targets("a", "b")}) == ["--target", "a", "--target", "b"]
    assert pipeline.argv("score", {"as_of": "{{job.parameters.as_of}}"}) == ["--as-of", "{{job.parameters.as_of}}"]
    with pytest.raises(KeyError, match="as_of"):
        pipeline.argv("monitor", {})
    with pytest.raises(KeyError, match="'deploy' is not a pipeline stage"):
        pipeline.stage("deploy")
    assert pipeline.in_order(["ingest", "features", "score"]) and not pipeline.in_order(["score", "features"])
    assert not pipeline.in_order(["ingest", "ingest"]) and not pipeline.in_order(["ingest", "forget"])
