"""Headline findings of one snapshot's analyses, one line each, for the job summary and the demo: read
from the aggregates the job wrote (the read-back frames of the report), never from per-user rows."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from userscore.config.root import Config


def funnel_lines(steps: pd.DataFrame) -> list[str]:
    """Per funnel (whole population): users entering, converting, and the step that loses most of them."""
    lines = []
    whole = steps[steps["breakdown"] == "all"]
    for funnel, rows in whole.groupby("funnel", sort=True):
        rows = rows.sort_values("step")
        entered, converted = int(rows["users"].iloc[0]), int(rows["users"].iloc[-1])
        line = f"funnel {funnel}: {entered:,} entered, {converted:,} converted"
        if entered:
            line += f" ({converted / entered:.1%})"
        later = rows[rows["step"] > 1]
        if entered and len(later) and later["drop_off_rate"].max() > 0:
            worst = later.loc[later["drop_off_rate"].idxmax()]
            before = rows[rows["step"] == worst["step"] - 1]["step_name"].iloc[0]
            line += f"; biggest drop {before} -> {worst['step_name']} ({worst['drop_off_rate']:.1%} lost)"
        lines.append(line)
    return lines


def path_lines(paths: pd.DataFrame) -> list[str]:
    """The most common multi-step session path, and the most common path overall."""
    overall = paths[paths["kind"] == "all"].sort_values("rank")
    if overall.empty:
        return []
    top = overall.iloc[0]
    line = f"most common session path: {top['path']} ({top['share']:.1%} of sessions)"
    longer = overall[overall["depth"] > 1]
    if len(longer):
        first = longer.iloc[0]
        line += f"; most common with several steps: {first['path']} ({first['share']:.1%})"
    return [line]


def profile_lines(distribution: pd.DataFrame, by: str = "grade") -> list[str]:
    """Each ``by`` group's share of the users and of the spend (summed over one dimension's values)."""
    rows = distribution[distribution["breakdown"] == by]
    if rows.empty:
        return []
    rows = rows[rows["dimension"] == rows["dimension"].min()]
    groups = rows.groupby("breakdown_value")[["users", "spend"]].sum().sort_index()
    users, spend = groups["users"].sum(), groups["spend"].sum()
    if not users:
        return []
    parts = [
        f"{value} {g['users'] / users:.0%} of users / {g['spend'] / spend if spend else 0:.0%} of spend"
        for value, g in groups.iterrows()
    ]
    return [f"by {by}: " + ", ".join(parts)]


def consumption_lines(summary: pd.DataFrame) -> list[str]:
    """Buyers, revenue and how concentrated it is."""
    measures = dict(zip(summary["measure"], summary["value"], strict=True))
    if not measures.get("buyers"):
        return ["no buyers in the consumption window"]
    parts = [f"{int(measures['buyers']):,} buyers, revenue {measures['revenue']:,.0f}"]
    top = sorted((k for k in measures if k.startswith("top_") and k.endswith("pct_revenue_share")), key=_pct)
    parts += [f"top {_pct(k):g}% of buyers bring {measures[k]:.0%}" for k in top]
    if measures.get("gini") is not None:
        parts.append(f"Gini {measures['gini']:.3f}")
    return ["; ".join(parts)]


def _pct(measure: str) -> float:
    return float(measure[len("top_") : -len("pct_revenue_share")])


def interest_lines(share: pd.DataFrame, conversion: pd.DataFrame, none_label: str = "none") -> list[str]:
    """The most common interest over the whole base, and the categories interest converts best and worst."""
    lines = []
    grade_rows = share[(share["category"] != none_label)]
    if len(grade_rows):
        common = grade_rows.groupby("category")["population_share"].first().sort_values(ascending=False)
        lines.append(f"most common interest: {common.index[0]} ({common.iloc[0]:.1%} of users)")
    converting = conversion[conversion["interested_users"] > 0].sort_values("conversion_rate", ascending=False)
    if len(converting):
        best, worst = converting.iloc[0], converting.iloc[-1]
        lines.append(
            f"interest converts best in {best['category']} ({best['conversion_rate']:.1%} buy within "
            f"{int(best['window_days'])} days) and worst in {worst['category']} ({worst['conversion_rate']:.1%})"
        )
    return lines


def findings(frames: Mapping[str, pd.DataFrame], config: Config) -> list[str]:
    """One line per finding, prefixed by its analysis (empty tables give no line)."""
    analysis = config.analysis
    out: list[str] = []

    def add(name: str, lines: list[str]) -> None:
        out.extend(f"{name}: {line}" for line in lines)

    def frame(table: str) -> pd.DataFrame | None:
        got = frames.get(table)
        return got if got is not None and not got.empty else None

    steps = frame(analysis.funnels.tables.steps)
    if steps is not None:
        add("funnels", funnel_lines(steps))
    paths = frame(analysis.paths.tables.paths)
    if paths is not None:
        add("paths", path_lines(paths))
    distribution = frame(analysis.profile.table)
    if distribution is not None:
        add("profile", profile_lines(distribution))
    summary = frame(analysis.consumption.tables.summary)
    if summary is not None:
        add("consumption", consumption_lines(summary))
    share, conversion = frame(analysis.interests.tables.share), frame(analysis.interests.tables.conversion)
    if share is not None and conversion is not None:
        add("interests", interest_lines(share, conversion))
    return out
