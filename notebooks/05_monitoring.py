# Databricks notebook source
# MAGIC %md
# MAGIC # Monitoring tables
# MAGIC What `userscore monitor` wrote for one snapshot: the alerts that fired, the largest drifts (PSI of
# MAGIC scores against the previous snapshot and of model inputs against training), the score ladder with a
# MAGIC chart of each score's quantiles now vs the previous snapshot vs training, and the realised accuracy of
# MAGIC matured snapshots. The same snapshot's HTML report is listed at the end.
# MAGIC
# MAGIC Parameters: `as_of` (a monitored snapshot, empty = the newest), `chart` (locally: a PNG path to save
# MAGIC the chart to; on Databricks it is shown inline). Locally:
# MAGIC `.venv/bin/python notebooks/05_monitoring.py [as_of=YYYY-MM-DD] [chart=/tmp/ladder.png] [root=DIR]`.

# COMMAND ----------

import datetime as dt

from pyspark.sql import functions as F

from userscore.notebook import on_databricks, open_notebook
from userscore.scoring.pipeline import latest_snapshot

nb = open_notebook({"as_of": "", "chart": ""}, globals().get("dbutils"))
catalog = nb.catalog
if nb.params["as_of"]:
    as_of = dt.date.fromisoformat(nb.params["as_of"])
else:
    as_of = latest_snapshot(catalog, "monitor.score_ladder")
at = F.col("as_of_date") == as_of
print(f"monitored snapshot {as_of}")

# COMMAND ----------

# MAGIC %md ## Alerts

# COMMAND ----------

alerts = catalog.read("monitor.alerts", where=at)
print(f"{alerts.count()} alert(s) fired")
alerts.select("severity", "rule", "subject", "value", "threshold", "message").orderBy("severity", "rule").show(
    truncate=False
)

# COMMAND ----------

# MAGIC %md ## Largest drifts (PSI above 0.2 is a shift worth a look)

# COMMAND ----------

drift = catalog.read("monitor.drift", where=at)
drift.select("kind", "name", "baseline", "target", "baseline_date", "psi", "rows", "baseline_rows").orderBy(
    F.desc("psi")
).show(15, truncate=False)

# COMMAND ----------

# MAGIC %md ## Score ladder: quantiles now, at the previous snapshot and in training

# COMMAND ----------

ladder = catalog.read("monitor.score_ladder", where=at).cache()
ladder.where(F.col("kind") == "band").select(
    "score", "key", "value", "previous_value", "change_vs_previous", "change_vs_reference"
).orderBy("score", "key").show(truncate=False)

quantiles = (
    ladder.where((F.col("kind") == "stat") & F.col("key").rlike("^p[0-9]+$"))
    .select("score", "key", "value", "previous_value", "reference_value")
    .collect()  # bounded: scores x quantiles
)
ladder.unpersist()
by_score: dict[str, list] = {}
for r in sorted(quantiles, key=lambda r: (r["score"], int(r["key"][1:]))):
    by_score.setdefault(r["score"], []).append(r)

import matplotlib  # noqa: E402 - the backend must be chosen before pyplot is imported

if not on_databricks():
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

figure, axes = plt.subplots(1, len(by_score), figsize=(4 * len(by_score), 3.5), squeeze=False)
for ax, (score, rows) in zip(axes[0], by_score.items(), strict=True):
    levels = [int(r["key"][1:]) for r in rows]
    for column, label, style in (
        ("value", str(as_of), "-"),
        ("previous_value", "previous", "--"),
        ("reference_value", "training", ":"),
    ):
        points = [(q, r[column]) for q, r in zip(levels, rows, strict=True) if r[column] is not None]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=label)
    ax.set_title(score)
    ax.set_xlabel("quantile (%)")
axes[0][0].legend()
figure.tight_layout()
if on_databricks():
    plt.show()
elif nb.params["chart"]:
    figure.savefig(nb.params["chart"])
    print(f"chart saved to {nb.params['chart']}")

# COMMAND ----------

# MAGIC %md ## Realised accuracy of matured snapshots

# COMMAND ----------

accuracy = catalog.read("monitor.accuracy", where=at)
accuracy.where(F.col("level") == "overall").select(
    "target",
    "snapshot_date",
    "model_version",
    "rows",
    "positives",
    "mean_predicted",
    "observed_rate",
    "auc",
    "training_auc",
    "auc_drop",
).show(truncate=False)
accuracy.where(F.col("level") == "decile").select(
    "target",
    "snapshot_date",
    F.col("bucket").cast("int").alias("decile"),
    "rows",
    "mean_predicted",
    "observed_rate",
    "lift",
).orderBy("target", "snapshot_date", "decile").show(30, truncate=False)

# COMMAND ----------

# MAGIC %md ## The HTML report of this snapshot

# COMMAND ----------

report = nb.config.path(nb.config.monitor.report.dir) / f"monitor-{as_of.isoformat()}.html"
print(f"{report} ({'present' if report.exists() else 'not written here'})")
