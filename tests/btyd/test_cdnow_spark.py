"""End to end on real data no one here generated: CDNOW sample -> `userscore ingest --env cdnow` -> Spark
summary -> fit on the driver's groups -> the published estimates (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from pyspark.testing import assertDataFrameEqual

from tests.btyd.conftest import calibration_summary as python_summary
from tests.conftest import REPO, TEST_SPARK
from userscore.btyd import BGNBDParams, expected_purchases, fit_gamma_gamma, probability_alive
from userscore.btyd.model import fit_btyd
from userscore.btyd.scoring import add_btyd_scores
from userscore.btyd.summary import calibration_summary, collect_groups
from userscore.btyd.workflow import spend_backtest
from userscore.catalog import Catalog
from userscore.cli import build_parser
from userscore.config import deep_merge, load_config
from userscore.runner import run_job

PUBLISHED_BGNBD = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie & Lee (2005), weeks
CALIBRATION_END = dt.date(1997, 10, 1)  # snapshot D: orders dated up to 1997-09-30 are observed


def cdnow_job(overrides: dict, *argv: str) -> int:
    """``userscore <argv> --env cdnow`` with ``overrides`` (the test session's Spark settings, private paths)."""
    args = build_parser().parse_args([*argv, "--env", "cdnow"])
    return run_job(args.command, args.handler, args, lambda _: overrides)


@pytest.fixture(scope="module")
def cdnow_silver(spark, cdnow_dir: Path, tmp_path_factory):
    """silver.orders of the CDNOW sample, written by `userscore ingest --env cdnow` into a private warehouse."""
    tmp = tmp_path_factory.mktemp("cdnow")
    paths = {"catalog": {"root": str(tmp / "warehouse")}, "ingest": {"raw_dir": str(cdnow_dir / "landing" / "sample")}}
    overrides = deep_merge(TEST_SPARK, paths)
    assert cdnow_job(overrides, "ingest", "--batch", "cdnow-sample") == 0
    config = load_config(env="cdnow", conf_dir=REPO / "conf", overrides=overrides)
    catalog = Catalog(spark, config)
    audit = catalog.read("ops.ingest_audit").select("source", "records_read", "accepted", "quarantined")
    assert sorted(tuple(r) for r in audit.collect()) == [("orders", 6919, 6919, 0), ("users", 2357, 2357, 0)]
    assert catalog.read("silver.events").count() == 0  # declared absent: created empty
    return config, catalog, overrides


@pytest.fixture(scope="module")
def spark_summary(cdnow_silver):
    config, catalog, _ = cdnow_silver
    summary = calibration_summary(catalog.read("silver.orders"), CALIBRATION_END).persist()
    yield summary
    summary.unpersist()


def test_summary_equals_the_raw_text_summary(spark, spark_summary, cdnow_dir: Path) -> None:
    # The plain-Python summary of tests/btyd/conftest.py reads CDNOW_sample.txt directly (orders dated <= 1997-09-30).
    expected = [
        (f"cdnow-{c.customer}", c.x, round(c.t_x * 7), round(c.T * 7), c.m_x if c.x else None)
        for c in python_summary(cdnow_dir / "raw" / "CDNOW_sample.txt")
    ]
    schema = "user_id string, x long, t_x_days int, t_cal_days int, m_x double"
    assertDataFrameEqual(spark_summary, spark.createDataFrame(expected, schema), rtol=1e-12, atol=1e-9)
    # The paper's first customer: x = 2, t_x = 30.43, T = 38.86 weeks.
    first = spark_summary.where("user_id = 'cdnow-00004'").first()
    assert (first.x, round(first.t_x_days / 7, 2), round(first.t_cal_days / 7, 2)) == (2, 30.43, 38.86)


def test_fit_on_spark_groups_reproduces_published_estimates(cdnow_silver, spark_summary) -> None:
    config, _, _ = cdnow_silver
    stats = collect_groups(spark_summary, config.btyd.m_x_significant_digits)
    fit = fit_btyd(stats, time_unit="weeks", observation_end=CALIBRATION_END)

    assert (stats.n_customers, fit.gamma_gamma.n_customers) == (2357, 946)
    bg, gg = fit.model.bgnbd, fit.model.gamma_gamma
    assert (bg.r, bg.alpha, bg.a, bg.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), abs=1e-3)
    assert fit.bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert (gg.p, gg.q, gg.v) == pytest.approx((6.25, 3.74, 15.44), abs=1e-2)

    # The paper's customer (x = 2, t_x = 30.43, T = 38.86): 1.226 purchases expected in the next 39 weeks,
    # scored by the distributed path on that customer's summary row.
    row = (
        add_btyd_scores(spark_summary.where("user_id = 'cdnow-00004'"), fit.model, (273,), 273, 273, 0.0)
        .select("expected_purchases_273d")
        .first()
    )
    assert row[0] == pytest.approx(1.226, abs=1e-3)


def test_fit_at_one_week_resolution_stays_near_published(spark_summary, cdnow_dir: Path) -> None:
    """The production default (t_x and T rounded to whole weeks for the fit) on real data: fewer groups, and
    every BG/NBD parameter within 3% of the published exact-day estimates."""
    stats = collect_groups(spark_summary, 4, resolution_days=7)

    # A plain-Python GROUP BY of the raw-text summary, days rounded half up to the nearest multiple of 7.
    def week(days: float) -> int:
        return math.floor(round(days) / 7 + 0.5) * 7

    customers = python_summary(cdnow_dir / "raw" / "CDNOW_sample.txt")
    expected = Counter((c.x, week(c.t_x * 7), week(c.T * 7)) for c in customers)
    assert sorted(zip(stats.x, stats.t_x_days, stats.t_cal_days, stats.weight, strict=True)) == sorted(
        (*k, n) for k, n in expected.items()
    )
    assert stats.n_rfm_groups < 1016  # 1,016 groups at exact days (test_fit_on_spark_groups_...)

    bg = fit_btyd(stats, time_unit="weeks", observation_end=CALIBRATION_END).model.bgnbd
    assert (bg.r, bg.alpha, bg.a, bg.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), rel=0.03)

    # Scored on each customer's exact days, the week-resolution fit and the published one agree closely:
    # the base's expected purchases in the next 39 weeks within 1%, P(alive) within 0.01 for everyone.
    x = np.array([c.x for c in customers], dtype=float)
    t_x, T = (np.array([round(getattr(c, n) * 7) / 7 for c in customers]) for n in ("t_x", "T"))
    total, published_total = (expected_purchases(p, 39.0, x, t_x, T).sum() for p in (bg, PUBLISHED_BGNBD))
    assert total == pytest.approx(published_total, rel=0.01)
    assert np.max(np.abs(probability_alive(bg, x, t_x, T) - probability_alive(PUBLISHED_BGNBD, x, t_x, T))) < 0.01


def test_spend_backtest_equals_a_plain_python_backtest_of_the_raw_file(cdnow_silver, cdnow_dir: Path) -> None:
    """The gate's spend backtest on real data (the CDNOW overlay's 91 days: S = 1997-07-02), against one built
    customer by customer from CDNOW_sample.txt (exact m_x, no groups) with the same Gamma-Gamma fitter."""
    config, catalog, _ = cdnow_silver
    holdout = config.btyd.gate.spend_holdout_days
    split = CALIBRATION_END - dt.timedelta(days=holdout)
    raw = cdnow_dir / "raw" / "CDNOW_sample.txt"
    before = {c.customer: c for c in python_summary(raw, split - dt.timedelta(days=1))}
    later: dict[str, Counter] = {}
    for line in raw.read_text(encoding="ascii").splitlines():
        if not line.strip():
            continue
        customer, _, day, _, dollars = line.split()
        if split <= dt.date(int(day[:4]), int(day[4:6]), int(day[6:])) < CALIBRATION_END and customer in before:
            later.setdefault(customer, Counter())[day] += float(dollars)
    repeat = [c for c in before.values() if c.x > 0 and c.m_x > 0]
    params = fit_gamma_gamma([c.x for c in repeat], [c.m_x for c in repeat], [1.0] * len(repeat)).params
    overall = sum(c.m_x for c in before.values() if c.x > 0) / sum(1 for c in before.values() if c.x > 0)
    rows = []  # (n, s, Gamma-Gamma, own mean, overall mean) per customer buying again in [S, D)
    for customer, days in later.items():
        c, n, s = before[customer], len(days), sum(days.values())
        gg = params.p * (params.v + c.x * c.m_x) / (params.p * c.x + params.q - 1)
        rows.append((n, s, gg, c.m_x if c.x else overall, overall))
    total_n, total_s = sum(r[0] for r in rows), sum(r[1] for r in rows)
    expected_rmse = [math.sqrt(sum(r[0] * (r[k] - r[1] / r[0]) ** 2 for r in rows) / total_n) for k in (2, 3, 4)]
    expected_bias = [sum(r[0] * r[k] for r in rows) / total_s - 1 for k in (2, 3, 4)]

    got = spend_backtest(catalog.read("silver.orders"), CALIBRATION_END, config.btyd)
    assert (got.split_date, got.customers, got.purchases) == (split, len(rows), total_n)
    assert got.spend == pytest.approx(total_s, rel=1e-12)
    names = ("gamma_gamma", "own_mean", "overall_mean")
    # m_x at 4 significant digits in the groups moves the figures by far less than 0.1%.
    assert [got.rmse[k] for k in names] == pytest.approx(expected_rmse, rel=1e-3)
    assert [got.bias[k] for k in names] == pytest.approx(expected_bias, rel=1e-3, abs=1e-4)
    # Real data passes the gate: Gamma-Gamma beats both naive rules, with a small bias.
    assert got.rmse["gamma_gamma"] < min(got.rmse["own_mean"], got.rmse["overall_mean"])
    assert abs(got.bias["gamma_gamma"]) < config.btyd.gate.max_spend_bias


def test_btyd_job_writes_summary_and_registers_champion(spark, cdnow_silver, spark_summary, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    config, catalog, ingested = cdnow_silver
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = deep_merge(ingested, {"models": {"tracking": {"uri": uri, "artifact_root": str(tmp_path / "mlruns")}}})

    def run(*argv: str) -> int:
        return cdnow_job(overrides, "btyd", "--as-of", "1997-10-01", *argv)

    assert run() == 0
    out = capsys.readouterr().out
    assert "2,357 customers" in out and "userscore-btyd v1" in out and "PROMOTE" in out

    written = catalog.read("features.btyd_summary")
    expected = spark_summary.selectExpr(
        "user_id", "DATE'1997-10-01' AS as_of_date", "x", "t_x_days", "t_cal_days", "m_x"
    )
    assertDataFrameEqual(written, expected)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("userscore-btyd", "champion")
    metrics = client.get_run(champion.run_id).data.metrics
    assert str(champion.version) == "1"
    assert (metrics["bgnbd_r"], metrics["bgnbd_alpha"], metrics["bgnbd_a"], metrics["bgnbd_b"]) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=1e-3
    )
    assert metrics["bgnbd_log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    # The CDNOW overlay fits exact days (the paper's t_x = 213 / 7), not the production one-week default.
    assert (metrics["fit_resolution_days"], metrics["rfm_groups"]) == (1, 1016)

    # Re-running the date replaces its partition with the same rows (no duplicates).
    assert run("--no-register") == 0
    assertDataFrameEqual(catalog.read("features.btyd_summary"), expected)
    # A date before any purchase fails with exit code 2 and writes nothing.
    assert cdnow_job(overrides, "btyd", "--as-of", "1996-06-01", "--no-register") == 2
    assert "no purchases before 1996-06-01" in capsys.readouterr().out
    assert catalog.read("features.btyd_summary").count() == 2357


def test_keyed_by_person_the_summary_is_of_the_persons_purchases(spark, cdnow_silver, cdnow_dir: Path, capsys):
    # identity.resolve with a run before D that makes one person of every two consecutive customer numbers:
    # the job's summary is the plain-Python summary of the raw file with the numbers mapped the same way.
    config, catalog, ingested = cdnow_silver
    customers = sorted(r.user_id for r in catalog.read("silver.users").select("user_id").collect())
    person = {c: f"p-{customers[i - i % 2]}" for i, c in enumerate(customers)}
    run = CALIBRATION_END - dt.timedelta(days=1)
    catalog.append(
        "identity.person_map",
        spark.createDataFrame(
            [(run, c, p, 2) for c, p in person.items()],
            "as_of_date date, user_id string, person_id string, person_users int",
        ),
    )
    resolved = deep_merge(ingested, {"identity": {"resolve": True}})
    assert cdnow_job(resolved, "btyd", "--as-of", "1997-10-01", "--no-register") == 0
    assert f"{len(set(person.values())):,} customers" in capsys.readouterr().out

    expected = [
        (c.customer, dt.date(1997, 10, 1), c.x, round(c.t_x * 7), round(c.T * 7), c.m_x if c.x else None)
        for c in python_summary(cdnow_dir / "raw" / "CDNOW_sample.txt", customer_of=lambda n: person[f"cdnow-{n}"])
    ]
    schema = "user_id string, as_of_date date, x long, t_x_days int, t_cal_days int, m_x double"
    written = catalog.read("features.btyd_summary")
    assertDataFrameEqual(written, spark.createDataFrame(expected, schema), rtol=1e-12, atol=1e-9)
