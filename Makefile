# userscore: `make demo` sets everything up and runs the demo pipeline; `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
USERS ?= 10000
# The demo's documented development key for hashing phone numbers and e-mails. Real deployments set
# USERSCORE_PII_KEY from a secret store; ingest refuses to run without it.
export USERSCORE_PII_KEY ?= userscore-demo-key-not-a-secret

.PHONY: setup demo test quality lint format clean

setup:
	bash scripts/setup.sh

demo: setup
	$(BIN)/userscore demo --users $(USERS)

# One pytest-xdist worker per core, each with its own local SparkSession (tests/parallel.py says how the
# files are shared out); `pytest` alone runs serially.
test: setup
	$(BIN)/python -m pytest -n auto

# Model quality on the demo's generated data (GBT beats the baseline, calibrated ECE <= 0.02, tiers
# consistent; the uplift champion ranks the true effect better than its baseline and the propensity
# scores): slow and data-dependent, so not part of `make test`. Run `make demo` first.
quality: setup
	USERSCORE_QUALITY_WAREHOUSE=$(CURDIR)/warehouse $(BIN)/python -m pytest -m slow -s tests/models/test_quality.py

# dist/userscore-<version>-py3-none-any.whl (pip, Databricks) and dist/userscore-<version>.zip for
# spark-submit --py-files (README: Running on a cluster).
.PHONY: package
package: setup
	bash scripts/package.sh

lint: setup
	$(BIN)/ruff check lib tests jobs scripts
	$(BIN)/ruff format --check lib tests jobs scripts

format: setup
	$(BIN)/ruff format lib tests jobs scripts
	$(BIN)/ruff check --fix lib tests jobs scripts

clean:
	rm -rf warehouse data/raw mlruns mlflow.db spark-warehouse reports
