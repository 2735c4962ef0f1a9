# Databricks notebook source
# MAGIC %md
# MAGIC # Explore the feature snapshots
# MAGIC What `features.user_features` holds: the snapshots and their sizes, a profile of every feature of one
# MAGIC snapshot, the RFM segments with the per-snapshot quintile boundaries behind the R/F/M scores, and the
# MAGIC distribution of one feature by member level.
# MAGIC
# MAGIC Parameters: `as_of` (snapshot date, empty = the newest), `feature` (a numeric feature column).
# MAGIC Locally: `.venv/bin/python notebooks/02_explore_features.py [as_of=YYYY-MM-DD] [feature=NAME] [root=DIR]`.

# COMMAND ----------

import datetime as dt

from pyspark.sql import functions as F

from userscore.notebook import open_notebook
from userscore.scoring.pipeline import latest_snapshot

nb = open_notebook({"as_of": "", "feature": "monetary_365d"}, globals().get("dbutils"))
catalog, table = nb.catalog, nb.config.models.inputs.features
as_of = dt.date.fromisoformat(nb.params["as_of"]) if nb.params["as_of"] else latest_snapshot(catalog, table)
features = catalog.read(table)
snapshot = features.where(F.col("as_of_date") == as_of).cache()
print(f"{table} at {catalog.location(table)}: snapshot {as_of}, {snapshot.count():,} users")

# COMMAND ----------

# MAGIC %md ## Snapshots: one partition per date, each built only from rows before its date

# COMMAND ----------

features.groupBy("as_of_date").count().orderBy("as_of_date").show(100)

# COMMAND ----------

# MAGIC %md ## Every feature of the snapshot: missing share, mean and quantiles (one pass)

# COMMAND ----------

numeric = [f.name for f in snapshot.schema.fields if f.dataType.typeName() in ("integer", "long", "double")]
aggregates = []
for c in numeric:
    aggregates += [
        F.avg(F.col(c).isNull().cast("double")).alias(f"{c}|missing"),
        F.avg(c).alias(f"{c}|mean"),
        F.percentile_approx(c, [0.5, 0.95], 1000).alias(f"{c}|q"),
        F.max(c).alias(f"{c}|max"),
    ]
profile = snapshot.agg(*aggregates).first().asDict()  # one row of bounded size: 4 values per feature
print(f"{'feature':<28} {'missing':>8} {'mean':>12} {'p50':>12} {'p95':>12} {'max':>12}")
for c in numeric:
    p50, p95 = profile[f"{c}|q"] or (None, None)
    cells = [profile[f"{c}|mean"], p50, p95, profile[f"{c}|max"]]
    shown = " ".join("           -" if v is None else f"{v:>12.2f}" for v in cells)
    print(f"{c:<28} {profile[f'{c}|missing']:>8.1%} {shown}")

# COMMAND ----------

# MAGIC %md ## RFM segments, and the quintile boundaries recomputed for this snapshot

# COMMAND ----------

(
    snapshot.groupBy("rfm_segment")
    .agg(
        F.count("*").alias("users"),
        F.round(F.avg("recency_days"), 1).alias("avg_recency_days"),
        F.round(F.avg("frequency_365d"), 2).alias("avg_orders_365d"),
        F.round(F.avg("monetary_365d"), 2).alias("avg_spend_365d"),
        F.round(F.avg("rfm_score"), 2).alias("avg_rfm_score"),
    )
    .orderBy(F.desc("users"))
    .show(truncate=False)
)
boundaries = catalog.read("features.rfm_boundaries").where(F.col("as_of_date") == as_of)
boundaries.select("feature", "bin", "score", "lower_bound", "upper_bound", "population").orderBy("feature", "bin").show(
    50
)

# COMMAND ----------

# MAGIC %md ## One feature by member level

# COMMAND ----------

feature = nb.params["feature"]
if feature not in numeric:
    raise ValueError(f"feature {feature!r} is not a numeric column of {table}: one of {numeric}")
(
    snapshot.groupBy("member_level")
    .agg(
        F.count("*").alias("users"),
        F.round(F.avg(feature), 2).alias("mean"),
        F.transform(F.percentile_approx(feature, [0.1, 0.5, 0.9], 1000), lambda q: F.round(q, 2)).alias("p10_p50_p90"),
    )
    .orderBy("member_level")
    .show(truncate=False)
)
snapshot.unpersist()
