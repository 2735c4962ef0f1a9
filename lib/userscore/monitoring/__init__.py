"""Monitoring: the score ladder, drift (PSI), realised accuracy, alerts and the HTML report.

Public API:
- :func:`pipeline.monitor_snapshot`: monitor snapshot D end to end (tables, report, MLflow), returning a
  :class:`outcome.MonitorOutcome` that :func:`summary.summary_lines` prints;
- :func:`psi.psi`: the population stability index of two binned distributions;
- :func:`alerts.evaluate_rules`: alert rows from metric rows and configured rules.
Everything per user stays in Spark; the driver holds bins, quantiles and counts only.
"""

from userscore.monitoring.outcome import MonitorOutcome
from userscore.monitoring.pipeline import monitor_snapshot
from userscore.monitoring.summary import summary_lines

__all__ = ["MonitorOutcome", "monitor_snapshot", "summary_lines"]
