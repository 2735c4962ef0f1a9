"""Targets as config, labelled training sets, GBT + baseline + calibration, evaluation, MLflow tracking
and the champion gate.

Entry points: ``workflow.train_targets`` (the train job: train, validate, promote), ``lifecycle``
(validate / promote / rollback a registered version: the models command), ``registry`` (the typed run
record of a version, read by the monitor). Submodules are imported where used, so importing the package
does not import Spark ML.
"""
