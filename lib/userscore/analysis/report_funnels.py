"""The funnel section of the analysis report: per funnel a bar chart of the users reaching each step with
the drop-off between steps, the step table with times to convert, and the breakdown table."""

from __future__ import annotations

import html
from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd

from userscore.analysis.funnels import ALL, OTHER
from userscore.charts import COLORS, img, png, table
from userscore.config.root import Config


def section(frames: Mapping[str, pd.DataFrame], config: Config) -> str:
    """HTML fragment from the funnel steps table's partition D (``frames`` by table name)."""
    funnels = config.analysis.funnels
    steps = frames.get(funnels.tables.steps)
    parts = [
        "<h2>Funnels</h2>",
        '<p class="note">Users who reached each step of a funnel within its time window, counted from their '
        "first step (ClickHouse windowFunnel rules). Users who stopped at a step are an audience in "
        f"{html.escape(funnels.tables.dropped)} (family funnel_&lt;funnel&gt;).</p>",
    ]
    if not funnels.funnels:
        return "\n".join([*parts, '<p class="note">No funnels are configured (analysis.funnels.funnels).</p>'])
    if steps is None or steps.empty:
        return "\n".join([*parts, '<p class="note">No funnel results for this date.</p>'])
    for funnel_id, funnel in funnels.funnels.items():
        rows = steps[steps["funnel"] == funnel_id]
        overall = rows[rows["breakdown"] == ALL].sort_values("step")
        title = f"{funnel_id}: {funnel.description}" if funnel.description else funnel_id
        parts.append(f"<h3>{html.escape(title)}</h3>")
        if overall.empty or int(overall["users"].iloc[0]) == 0:
            parts.append('<p class="note">Nobody entered this funnel.</p>')
            continue
        parts.append(img(_chart(funnel_id, overall), f"funnel {funnel_id}"))
        parts.append(_step_table(overall))
        parts.append(_breakdown_table(rows, funnels.report_top_values))
        if (rows["breakdown_value"] == OTHER).any():
            parts.append(
                f'<p class="note">{OTHER} sums the values of a breakdown beyond its '
                f"{funnels.max_breakdown_values} largest (by users at step 1).</p>"
            )
    return "\n".join(parts)


def _chart(funnel_id: str, overall: pd.DataFrame) -> str:
    names, users = list(overall["step_name"]), [int(u) for u in overall["users"]]
    fig, ax = plt.subplots(figsize=(8.0, 0.7 * len(names) + 1.4))
    y = list(range(len(names)))[::-1]
    # A pale bar at the previous step's size shows the drop-off as the part that is missing.
    ax.barh(y[1:], users[:-1], color="#f4c7c3", label="dropped since the previous step")
    ax.barh(y, users, color=COLORS[0], label="reached the step")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    top = max(users)
    for i, (pos, n) in enumerate(zip(y, users, strict=True)):
        label = f"{n:,} ({n / users[0]:.0%} of step 1)"
        if i > 0:
            lost = users[i - 1] - n
            rate = lost / users[i - 1] if users[i - 1] else 0.0
            label += f"   -{lost:,} ({rate:.0%} dropped)"
        ax.text(
            max(n, users[i - 1] if i else n) + top * 0.01,
            pos,
            label,
            va="center",
            fontsize=9,
            color="#222" if i == 0 else "#b2182b",
        )
    ax.set_yticks(y, [f"{i + 1}. {n}" for i, n in enumerate(names)])
    ax.set_xlim(0, top * 1.9)
    ax.set_xlabel("users")
    ax.set_title(f"{funnel_id}: users reaching each step")
    return png(fig)


def _duration(seconds: float | None) -> str | None:
    if seconds is None or pd.isna(seconds):
        return None
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _share(value: float | None) -> str | None:
    return None if value is None or pd.isna(value) else f"{value:.1%}"


def _step_table(overall: pd.DataFrame) -> str:
    header = ["step", "users", "from previous", "from step 1", "dropped", "median time", "p90 time"]
    rows = [
        [
            f"{int(r.step)}. {r.step_name}", f"{int(r.users):,}", _share(r.conversion_from_previous),
            _share(r.conversion_from_first), f"{int(r.dropped):,}", _duration(r.median_seconds_from_previous),
            _duration(r.p90_seconds_from_previous),
        ]
        for r in overall.itertuples()
    ]  # fmt: skip
    return table(header, rows) + '<p class="note">Times are from the previous step, for users who got there.</p>'


def _breakdown_table(rows: pd.DataFrame, top: int) -> str:
    """Per breakdown value (the largest ``top`` per breakdown): entered, converted, overall conversion and
    the step losing the largest share of users."""
    last = int(rows["step"].max())
    out = []
    for breakdown in [b for b in rows["breakdown"].drop_duplicates() if b != ALL]:
        values = rows[rows["breakdown"] == breakdown]
        entered = values[values["step"] == 1].sort_values("users", ascending=False).head(top)
        for value in entered["breakdown_value"]:
            these = values[values["breakdown_value"] == value].sort_values("step")
            first, final = int(these["users"].iloc[0]), int(these["users"].iloc[-1])
            losses = these[these["step"] > 1]
            worst = losses.loc[losses["drop_off_rate"].fillna(-1.0).idxmax()] if not losses.empty else None
            weakest = f"{worst.step_name} ({worst.drop_off_rate:.0%} lost)" if worst is not None else None
            conversion = _share(final / first if first else None)
            out.append([breakdown, value, f"{first:,}", f"{final:,}", conversion, weakest])
    if not out:
        return ""
    header = ["breakdown", "value", "entered", f"reached step {last}", "conversion", "weakest step"]
    return table(header, out)
