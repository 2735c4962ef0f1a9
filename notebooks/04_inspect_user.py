# Databricks notebook source
# MAGIC %md
# MAGIC # One user: scores, tags, reasons and audiences
# MAGIC Everything the scoring stage wrote about one user for one snapshot: probabilities with their tiers
# MAGIC and the main reasons behind each, lifetime value, the 0-100 value score and grade, every tag with its
# MAGIC definition from the tag dictionary, the user's row in the tag wide table, their history across
# MAGIC snapshots and the audiences they are in.
# MAGIC
# MAGIC Parameters: `user_id` (empty = the user with the highest value score), `as_of` (a scored snapshot,
# MAGIC empty = the newest). Locally: `.venv/bin/python notebooks/04_inspect_user.py [user_id=u-000008] [root=DIR]`.

# COMMAND ----------

import datetime as dt

from pyspark.sql import functions as F

from userscore.notebook import open_notebook
from userscore.scoring.pipeline import latest_snapshot
from userscore.tags import load_dictionary

nb = open_notebook({"user_id": "", "as_of": ""}, globals().get("dbutils"))
catalog = nb.catalog
as_of = (
    dt.date.fromisoformat(nb.params["as_of"]) if nb.params["as_of"] else latest_snapshot(catalog, "scores.user_scores")
)
scores = catalog.read("scores.user_scores", where=F.col("as_of_date") == as_of)
user_id = nb.params["user_id"] or scores.orderBy(F.desc("value_score"), "user_id").first()["user_id"]
found = scores.where(F.col("user_id") == user_id).collect()  # one user: at most one row per snapshot
if not found:
    raise ValueError(f"user {user_id!r} has no scores for snapshot {as_of} in {catalog.location('scores.user_scores')}")
row = found[0].asDict()
dictionary = load_dictionary(nb.config.tags)
print(f"user {user_id}, snapshot {as_of}, scored at {row['scored_at']}")

# COMMAND ----------

# MAGIC %md ## Scores, tiers and the reasons behind them

# COMMAND ----------

tag_columns = set(dictionary.ids)
for column, value in row.items():
    if column in tag_columns or column in ("user_id", "as_of_date", "scored_at") or column.endswith("_reasons"):
        continue
    print(f"{column:<28} {value}")
print()
for column in (c for c in row if c.endswith("_reasons")):
    print(f"{column}:")
    for reason in (row[column] or "none").split("; "):
        print(f"    {reason}")

# COMMAND ----------

# MAGIC %md ## Tags, with their dictionary definitions

# COMMAND ----------

for tag in dictionary:
    print(f"{tag.id:<22} {row[tag.id]!s:<14} {tag.category:<12} {tag.name}: {tag.definition_text}")

# COMMAND ----------

# MAGIC %md ## The tag wide table and the user's history
# MAGIC The wide table keeps one current row per user; its `as_of_date` is the snapshot in which that row last
# MAGIC changed (the MERGE rewrites only rows whose values changed, so downstream syncs see real changes only).

# COMMAND ----------

wide = catalog.read("tags.user_tag_wide", where=F.col("user_id") == user_id)
wide.select("user_id", "as_of_date", "scored_at", "value_score", "grade", *dictionary.ids[:8]).show(truncate=False)
history = catalog.read("scores.user_scores", where=F.col("user_id") == user_id)
history.select(
    "as_of_date",
    "value_score",
    "grade",
    "churn_probability",
    "churn_tier",
    "repurchase_probability",
    "repurchase_tier",
    "clv_365d",
).orderBy("as_of_date").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Audiences for this snapshot

# COMMAND ----------

members = catalog.read("audiences.segment_members", where=F.col("as_of_date") == as_of)
members.where(F.col("user_id") == user_id).select(
    "family", "segment", "strategy", "channel", "priority", "is_control"
).orderBy("priority", "family").show(truncate=False)
