"""The uplift model's evaluation chart (PNG, headless matplotlib): observed uplift by decile of each
ranking on the held-out campaign, with +-1.96 standard errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def deciles_chart(results: Mapping[str, object], path: Path) -> Path:
    """One line per ranking: uplift (points) per decile, 1 = the highest scores."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, result) in enumerate(results.items()):
        rows = [d for d in result.deciles if d["uplift"] is not None]
        x = [d["decile"] + (i - len(results) / 2) * 0.06 for d in rows]
        y = [100 * d["uplift"] for d in rows]
        err = [196 * d["uplift_se"] for d in rows]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=2, linewidth=1, label=name)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xlabel="decile of the ranking's score (1 = highest)", ylabel="observed uplift (points)")
    ax.set_title("Held-out campaign: uplift by decile")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
