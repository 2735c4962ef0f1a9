"""Evaluation plots as PNG files (matplotlib, headless Agg backend), drawn from bounded aggregates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from userscore.models.evaluation import Evaluation  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_curve(evaluations: Mapping[str, Evaluation], path: Path) -> Path:
    """ROC curves of several models on the same rows."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, ev in evaluations.items():
        fpr, tpr = zip(*ev.roc, strict=True) if ev.roc else ((), ())
        ax.plot(fpr, tpr, label=f"{name} (AUC {ev.metrics['auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (validation snapshot)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def lift_gain(evaluation: Evaluation, path: Path) -> Path:
    """Lift per decile (bars) and cumulative gain (line)."""
    deciles = [d["decile"] for d in evaluation.deciles]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(deciles, [d["lift"] for d in evaluation.deciles], color="tab:blue")
    left.axhline(1.0, color="grey", linestyle=":")
    left.set(xlabel="decile (1 = highest scores)", ylabel="lift", title="Lift by decile", xticks=deciles)
    right.plot([0, *deciles], [0.0, *(d["cumulative_gain"] for d in evaluation.deciles)], marker="o", label="model")
    right.plot([0, 10], [0, 1], color="grey", linestyle=":", label="random")
    right.set(xlabel="deciles targeted", ylabel="share of positives", title="Cumulative gain", xticks=[0, *deciles])
    right.legend(loc="lower right")
    return _save(fig, path)


def calibration_curve(evaluations: Mapping[str, Evaluation], path: Path) -> Path:
    """Reliability diagram: mean predicted probability vs observed positive rate per bin."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, ev in evaluations.items():
        xs = [b["mean_score"] for b in ev.calibration]
        ys = [b["positive_rate"] for b in ev.calibration]
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ev.metrics['ece']:.4f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="Calibration")
    ax.legend(loc="upper left")
    return _save(fig, path)


def feature_importance(importances: Sequence[tuple[str, float]], path: Path) -> Path:
    """Horizontal bars, most important at the top."""
    names = [n for n, _ in importances][::-1]
    values = [v for _, v in importances][::-1]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(names) + 1)))
    ax.barh(names, values, color="tab:green")
    ax.set(xlabel="GBT feature importance (share of total gain)", title="Feature importance")
    return _save(fig, path)
