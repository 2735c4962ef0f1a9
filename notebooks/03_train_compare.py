# Databricks notebook source
# MAGIC %md
# MAGIC # Train and compare one target
# MAGIC Labels, samples and fits one target exactly as `userscore train` does (GBT + calibration and the
# MAGIC logistic-regression baseline), then compares the served (calibrated) GBT, the raw GBT and the baseline
# MAGIC on the validation snapshot with the library's evaluation. Nothing is logged or registered: this is for
# MAGIC trying settings; put what works in `conf/base/models.yaml` and run the train job.
# MAGIC
# MAGIC Parameters: `target` (a target in `models.targets`), `max_rows` (training sample cap), `trees` (GBT
# MAGIC iterations), `cutoff` (data complete up to, YYYY-MM-DD; empty = the newest order or event).
# MAGIC Locally:
# MAGIC `.venv/bin/python notebooks/03_train_compare.py [target=churn_60d] [max_rows=20000] [trees=20] [root=DIR]`.

# COMMAND ----------

import datetime as dt
from dataclasses import replace

from userscore.models.compare import MODELS, compare_target
from userscore.notebook import open_notebook

nb = open_notebook({"target": "churn_60d", "max_rows": "20000", "trees": "20", "cutoff": ""}, globals().get("dbutils"))
name = nb.params["target"]
configured = nb.config.models.targets.get(name)
# The configured target with the notebook's sample size and number of trees; compare_target names the
# known targets when `name` is not one of them.
tuned = (
    None
    if configured is None
    else replace(
        configured,
        sample=replace(configured.sample, max_rows=int(nb.params["max_rows"])),
        gbt=replace(configured.gbt, max_iter=int(nb.params["trees"])),
    )
)
cutoff = dt.date.fromisoformat(nb.params["cutoff"]) if nb.params["cutoff"] else None
comparison = compare_target(nb.catalog, nb.config, name, cutoff, tuned)
split = comparison.snapshots
print(f"target {name}: cut-off {split.cutoff}")
print(f"  train snapshots       {[d.isoformat() for d in split.train]}")
print(f"  calibration snapshots {[d.isoformat() for d in split.calibration]}")
print(f"  validation snapshot   {split.validation}")
print(f"  fit seconds           { {k: round(v, 1) for k, v in comparison.fitted.seconds.items()} }")

# COMMAND ----------

# MAGIC %md ## Validation metrics: served GBT (calibrated) vs raw GBT vs LR baseline

# COMMAND ----------

print("\n".join(comparison.metric_lines()))

# COMMAND ----------

# MAGIC %md ## Lift by decile (1 = highest scores) and calibration before/after

# COMMAND ----------

deciles = {m: comparison.evaluations[m].deciles for m in MODELS}
print(f"{'decile':>6}" + "".join(f"{m + ' lift':>14}" for m in MODELS) + f"{'served gain':>14}")
for i, row in enumerate(deciles["served"]):
    lifts = "".join(f"{deciles[m][i]['lift']:>14.3f}" for m in MODELS)
    print(f"{row['decile']:>6}{lifts}{row['cumulative_gain']:>14.3f}")
for model in ("raw", "served"):  # each binned by its own score: mean predicted vs observed per bin
    print(f"\ncalibration of the {model} score\n{'bin':>5} {'rows':>8} {'mean score':>11} {'observed':>10}")
    for b in comparison.evaluations[model].calibration:
        print(f"{b['bin']:>5.0f} {b['rows']:>8.0f} {b['mean_score']:>11.4f} {b['positive_rate']:>10.4f}")

# COMMAND ----------

# MAGIC %md ## What the GBT uses most

# COMMAND ----------

for feature, importance in comparison.importances[:15]:
    print(f"{feature:<32} {importance:.4f} {'#' * round(importance * 100)}")
