"""Targets as config, labelled training sets, GBT + baseline + calibration, evaluation, MLflow tracking
and the champion gate.

Entry points: ``workflow.train_targets`` (the train job), ``registry.list_versions`` (the models
command). Submodules are imported where used: ``userscore.config`` imports ``params`` from here, so
this package must not import Spark ML at import time.
"""
