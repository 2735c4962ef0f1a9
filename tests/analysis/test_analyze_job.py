"""The analyze job's frame: arguments, config, preconditions (exit 2, nothing written), and the pipeline's
writes, read-back and report with stand-in analyses and report sections (the real ones are tested in their
own modules). Rows and expected values: tests/analysis/analyze_world.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pandas as pd
import pytest
from pyspark.sql import functions as F

from tests.analysis.analyze_world import PREVIOUS, SETTINGS, D, write_silver, write_snapshot
from tests.conftest import REPO, make_config
from userscore.analysis.inputs import AnalysisOutput
from userscore.analysis.pipeline import analyse_snapshot, summary_lines
from userscore.catalog import Catalog
from userscore.cli import build_parser, main
from userscore.config import load_config
from userscore.errors import ConfigError, InputError
from userscore.jobs import demo

# Two tables declared for the test: an aggregate and a per-user table (subject_columns), as a funnel's
# step counts and its drop-off audience are.
COUNTS, DROPPED = "analysis.test_event_counts", "analysis.test_dropped"
TABLES = {
    COUNTS: {
        "description": "events per type (test)",
        "partition_by": ["as_of_date"],
        "key": ["as_of_date", "event_type"],
        "subject_columns": [],
        "columns": [
            {"name": "as_of_date", "type": "date", "nullable": False},
            {"name": "event_type", "type": "string", "nullable": False},
            {"name": "events", "type": "long", "nullable": False},
        ],
    },
    DROPPED: {
        "description": "users of grade D (test)",
        "partition_by": ["as_of_date"],
        "key": ["as_of_date", "user_id"],
        "subject_columns": ["user_id"],
        "columns": [
            {"name": "as_of_date", "type": "date", "nullable": False},
            {"name": "user_id", "type": "string", "nullable": False},
        ],
    },
}


@contextlib.contextmanager
def stand_in_analyses(inputs, config):
    """Two analyses over the loaded inputs: events per type (capped events) and the grade-D users."""
    counts = inputs.events.groupBy("event_type").agg(F.count(F.lit(1)).alias("events"))
    dropped = inputs.scores.where(F.col("grade") == "D").select("user_id")
    day = F.lit(inputs.as_of).alias("as_of_date")
    yield {
        "funnels": AnalysisOutput({COUNTS: counts.select(day, "*")}, ("3 event types",)),
        "profile": AnalysisOutput({DROPPED: dropped.select(day, "*")}, ("profile: 1 user of grade D",)),
    }


class Sections(dict):
    """Report sections that record the frames they are given."""

    def __init__(self):
        super().__init__()
        self.given: dict[str, dict[str, pd.DataFrame]] = {}
        for name in ("funnels", "paths", "consumption", "interests"):
            self[name] = self._section(name)

    def _section(self, name):
        def section(frames, config):
            self.given[name] = dict(frames)
            return f"<h2>{name} section</h2>"

        return section


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    config = make_config(root, {**SETTINGS, "tables": TABLES, "analysis": {**SETTINGS["analysis"],
                         "report_dir": str(root / "reports")}})  # fmt: skip
    catalog = Catalog(spark, config)
    write_silver(spark, catalog)
    write_snapshot(spark, catalog, D)
    return catalog


def test_the_job_writes_each_partition_once_reads_back_aggregates_and_reports(world):
    config = world.config
    sections = Sections()
    outcome = analyse_snapshot(world, config, D, analyses=stand_in_analyses, sections=sections)
    # Capped events (tests/analysis/analyze_world.py): bot b3 search, b4 cart, b5 view; human h1 view, h2 cart.
    expected = [(D, "cart", 2), (D, "search", 1), (D, "view", 2)]
    assert sorted(tuple(r) for r in world.read(COUNTS).collect()) == expected
    assert [tuple(r) for r in world.read(DROPPED).collect()] == [(D, "bot")]
    path = config.path(config.analysis.report_dir) / "analysis-2026-03-01.html"
    assert summary_lines(outcome) == [
        "snapshot 2026-03-01: 2 users, 5 events in the last 10 days",
        "capped users: 1 had more than 3 events (only their latest kept)",
        "funnels: 3 event types",
        "profile: 1 user of grade D",
        f"analysis report: {path}",
    ]
    # The report got the aggregate back, grouped by section; the per-user table is never read back.
    assert set(sections.given) == {"funnels", "paths", "consumption", "interests"}
    counts = sections.given["funnels"][COUNTS]
    assert sorted(zip(counts["event_type"], counts["events"], strict=True)) == [("cart", 2), ("search", 1), ("view", 2)]
    assert sections.given["consumption"] == {} and sections.given["paths"] == {}
    page = path.read_text(encoding="utf-8")
    assert "<li>Users capped at their latest 3 events (likely bots): <b>1</b></li>" in page
    assert "<li>Events analysed (2026-02-19 to 2026-02-28): <b>5</b></li>" in page
    assert page.index('<section id="funnels"><h2>funnels section</h2></section>') < page.index(
        '<section id="interests"><h2>interests section</h2></section>'
    )

    # Re-running D replaces the partition: the same rows, one more commit each, nothing duplicated.
    versions = {n: world.version(n) for n in (COUNTS, DROPPED)}
    again = analyse_snapshot(world, config, D, analyses=stand_in_analyses, sections=Sections())
    assert sorted(tuple(r) for r in world.read(COUNTS).collect()) == expected
    assert [tuple(r) for r in world.read(DROPPED).collect()] == [(D, "bot")]
    assert {w.table: w.version for w in again.writes} == {n: v + 1 for n, v in versions.items()}


def test_a_runtime_failure_midway_leaves_the_earlier_tables_written_and_persists_nothing_after(spark, tmp_path):
    config = make_config(tmp_path, {**SETTINGS, "tables": TABLES})
    catalog = Catalog(spark, config)
    write_silver(spark, catalog)
    write_snapshot(spark, catalog, D)
    cached = {}

    @contextlib.contextmanager
    def analyses(inputs, config):
        cached.update(events=inputs.events.is_cached, orders=inputs.orders.is_cached)
        cached["frames"] = (inputs.events, inputs.orders)
        with stand_in_analyses(inputs, config) as outputs:
            # DROPPED passes the declaration checks but fails when computed, i.e. at its write after COUNTS'.
            broken = inputs.scores.select(
                F.lit(D).alias("as_of_date"),
                F.coalesce(F.raise_error(F.lit("boom")).cast("string"), F.lit("x")).alias("user_id"),
            )
            yield {**outputs, "profile": AnalysisOutput({DROPPED: broken})}

    with pytest.raises(Exception, match="boom"):
        analyse_snapshot(catalog, config, D, analyses=analyses, sections=Sections())
    # Capped events: cart 2, search 1, view 2 (as in the test above); DROPPED has no partition D.
    assert sorted(tuple(r) for r in catalog.read(COUNTS).collect()) == [
        (D, "cart", 2),
        (D, "search", 1),
        (D, "view", 2),
    ]
    assert not catalog.exists(DROPPED) or catalog.read(DROPPED).count() == 0
    # Events and orders were persisted for the analyses and released, even on failure.
    assert (cached["events"], cached["orders"]) == (True, True)
    assert [frame.is_cached for frame in cached["frames"]] == [False, False]


@pytest.fixture(scope="module")
def unwritten(spark, tmp_path_factory):
    """The same inputs in a warehouse whose analysis tables must stay unwritten."""
    root = tmp_path_factory.mktemp("analyze-fails")
    analysis = {**SETTINGS["analysis"], "report_dir": str(root / "reports")}  # not the repo's (a demo may fill it)
    config = make_config(root, {**SETTINGS, "tables": TABLES, "analysis": analysis})
    catalog = Catalog(spark, config)
    write_silver(spark, catalog)
    write_snapshot(spark, catalog, D)
    return catalog


def test_an_undeclared_output_table_fails_before_any_write(unwritten):
    catalog, config = unwritten, unwritten.config

    @contextlib.contextmanager
    def analyses(inputs, config):
        with stand_in_analyses(inputs, config) as outputs:
            yield {**outputs, "paths": AnalysisOutput({"analysis.not_declared": inputs.users})}

    with pytest.raises(InputError) as error:
        analyse_snapshot(catalog, config, D, analyses=analyses, sections=Sections())
    assert str(error.value) == (
        "analysis outputs, nothing written: paths produced analysis.not_declared, which conf (tables) does not declare"
    )
    assert not catalog.exists(COUNTS) and not catalog.exists(DROPPED)
    assert not config.path(config.analysis.report_dir).exists()


def test_an_output_off_its_declaration_fails_before_any_write(unwritten):
    catalog, config = unwritten, unwritten.config

    @contextlib.contextmanager
    def analyses(inputs, config):
        with stand_in_analyses(inputs, config) as outputs:
            # The first table is fine; the second lacks a declared column: neither may be written.
            yield {**outputs, "profile": AnalysisOutput({DROPPED: inputs.scores.select("user_id")})}

    with pytest.raises(InputError, match=r"^cannot write to analysis.test_dropped: missing columns \['as_of_date'\]"):
        analyse_snapshot(catalog, config, D, analyses=analyses, sections=Sections())
    assert not catalog.exists(COUNTS) and not catalog.exists(DROPPED)
    assert not config.path(config.analysis.report_dir).exists()


def _sets(config) -> list[str]:
    return [
        "--conf-dir", str(REPO / "conf"),
        "--set", f"catalog.root={config.path(config.catalog.root)}",
        "--set", f"analysis.report_dir={config.path(config.analysis.report_dir)}",
        "--set", "spark.master=local[2]",
    ]  # fmt: skip


def test_the_job_without_the_scores_partition_exits_2_and_writes_nothing(world, capsys):
    config = world.config
    capsys.readouterr()
    assert main(["analyze", "--as-of", PREVIOUS.isoformat(), *_sets(config)]) == 2
    assert capsys.readouterr().out == (
        "userscore analyze: error: scores.user_scores has no partition as_of_date=2026-01-01 (snapshots: "
        "['2026-03-01']): run `userscore score --as-of 2026-01-01` first\n"
    )
    assert not (config.path(config.analysis.report_dir) / "analysis-2026-01-01.html").exists()


def test_the_job_without_scores_at_all_exits_2_and_writes_nothing(spark, tmp_path, capsys):
    config = make_config(tmp_path, {"analysis": {"report_dir": str(tmp_path / "reports")}})
    write_silver(spark, Catalog(spark, config))
    capsys.readouterr()
    assert main(["analyze", "--as-of", D.isoformat(), *_sets(config)]) == 2
    assert capsys.readouterr().out == (
        f"userscore analyze: error: scores.user_scores (analysis.inputs.scores) does not exist at "
        f"{tmp_path}/warehouse/scores/user_scores: run the job that writes it first\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse"]
    assert sorted(p.name for p in (tmp_path / "warehouse").iterdir()) == ["silver"]


def test_arguments():
    parser = build_parser()
    args = parser.parse_args(["analyze", "--as-of", "2026-11-01", "--report", "/tmp/r.html", "--env", "cluster"])
    assert (args.command, args.as_of, args.report, args.env) == (
        "analyze",
        dt.date(2026, 11, 1),
        "/tmp/r.html",
        "cluster",
    )
    assert parser.parse_args(["analyze", "--as-of", "2026-11-01"]).report is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --as-of"),
        (["--as-of", "2026-11-31"], "argument --as-of: a date YYYY-MM-DD, got '2026-11-31'"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["analyze", *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_spark_submit_script_runs_the_analyze_command():
    text = (REPO / "jobs" / "analyze.py").read_text(encoding="utf-8")
    assert 'main(["analyze", *sys.argv[1:]])' in text


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"inputs": {"events": "silver.clicks"}}, "analysis.inputs.events", "one of ["),
        ({"max_events_per_user": 0}, "analysis.max_events_per_user", "an integer >= 1"),
        ({"lookback_days": 0}, "analysis.lookback_days", "an integer in [1, 36525]"),
    ],
)
def test_bad_analysis_settings_fail_at_load_naming_the_key(overrides, key, expected):
    with pytest.raises(ConfigError) as error:
        load_config(env="local", conf_dir=REPO / "conf", overrides={"analysis": overrides})
    assert error.value.key_path == key and error.value.expected.startswith(expected)


def test_the_common_settings_reach_the_analysis_config():
    overrides = {"lookback_days": 30, "max_events_per_user": 7, "report_dir": "out/a", "missing_label": "n/a",
                 "inputs": {"scores": "scores.user_scores"}}  # fmt: skip
    analysis = load_config(env="local", conf_dir=REPO / "conf", overrides={"analysis": overrides}).analysis
    assert (analysis.lookback_days, analysis.max_events_per_user, analysis.report_dir, analysis.missing_label) == (
        30,
        7,
        "out/a",
        "n/a",
    )
    assert analysis.inputs.scores == "scores.user_scores"


def test_the_demo_prints_what_the_analyses_found():
    lines = [
        "snapshot 2026-11-01: 10,000 users, 551,019 events in the last 365 days",
        "capped users: 3 had more than 10,000 events (only their latest kept)",
        "funnels: browse_to_order: 8.2% of 4,100 entrants ordered",
        "interests: top category electronics",
        "analysis report: /tmp/reports/analysis-2026-11-01.html",
    ]
    assert demo.findings(lines) == lines[1:4]


def test_a_funnel_window_longer_than_the_look_back_fails_at_load():
    with pytest.raises(ConfigError) as error:
        load_config(env="local", conf_dir=REPO / "conf", overrides={"analysis": {"lookback_days": 1}})
    assert re.fullmatch(r"analysis\.funnels\.funnels\.\w+\.window", error.value.key_path)
    assert error.value.expected == "at most analysis.lookback_days (1 days): events before it are not read"
