# Databricks notebook source
# MAGIC %md
# MAGIC # Silver data quality
# MAGIC What ingest accepted, what it quarantined and why, and whether every batch reconciles
# MAGIC (records read = accepted + quarantined + duplicates dropped). Runs on Databricks (env
# MAGIC `databricks`) or locally (`.venv/bin/python notebooks/01_silver_quality.py [root=DIR]`).

# COMMAND ----------

from pyspark.sql import functions as F

from userscore.notebook import open_notebook

catalog = open_notebook({}, globals().get("dbutils")).catalog

# COMMAND ----------

# MAGIC %md ## Reconciliation per batch and source

# COMMAND ----------

audit = catalog.read("ops.ingest_audit").orderBy("batch_id", "source")
explained = F.col("accepted") + F.col("quarantined") + F.col("duplicates_dropped")
audit.select(
    "batch_id",
    "source",
    "records_read",
    "accepted",
    "quarantined",
    "duplicates_dropped",
    (F.col("records_read") - explained).alias("unexplained"),
).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Quarantine reasons, with one example record each

# COMMAND ----------

quarantine = catalog.read("silver.quarantine")
(
    quarantine.groupBy("source", "reason")
    .agg(F.count("*").alias("records"), F.first("raw_record").alias("example"))
    .orderBy("source", F.desc("records"))
    .show(50, truncate=80)
)

# COMMAND ----------

# MAGIC %md ## Silver tables: rows and Delta version

# COMMAND ----------

for name in (
    "silver.users",
    "silver.orders",
    "silver.events",
    "silver.level_changes",
    "silver.social_edges",
    "silver.identity_links",
):
    print(f"{name:<24} {catalog.read(name).count():>12,} rows  version {catalog.version(name)}")
