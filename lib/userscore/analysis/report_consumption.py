"""Report section of the basic profile and consumption analyses: profile bars, R x F heat map, Lorenz
curve, category and payment mix by segment, promotion dependence, order-value and repurchase histograms.

``frames`` holds the written partition D of the tables of conf/base/tables_analysis_consumption.yaml as
pandas (bounded aggregates), keyed by table name.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from userscore.analysis.consumption import ALL, top_measure
from userscore.charts import COLORS, grid, img, png, table
from userscore.config.root import Config


def section(frames: Mapping[str, pd.DataFrame], config: Config) -> str:
    """The HTML fragment of the profile and consumption analyses."""
    profile, tables = config.analysis.profile, config.analysis.consumption.tables
    window = config.analysis.consumption.value_window_days
    parts = [
        "<h2>Who the users are (basic profile)</h2>",
        _note(f"Scored users at the snapshot; spend = orders kept (not refunded) in the {window} days before it."),
        *_profile(frames.get(profile.table)),
        "<h2>How buyers spend (consumption)</h2>",
        *_summary(frames.get(tables.summary), config),
        *_rf_grid(frames.get(tables.rf_grid)),
        *_lorenz(frames.get(tables.lorenz), frames.get(tables.summary), config),
        *_mix(frames.get(tables.category_mix), "category", "Category mix by segment (share of revenue)"),
        *_promotion(frames.get(tables.promotion), config),
        *_histograms(frames.get(tables.distributions)),
        *_payment(frames.get(tables.payment_mix)),
    ]
    return "\n".join(parts)


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _empty(df: pd.DataFrame | None) -> bool:
    return df is None or df.empty


def _percent(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"


# -- profile ---------------------------------------------------------------------------------------
def _profile(df: pd.DataFrame | None) -> list[str]:
    if _empty(df):
        return [_note("No scored users at this snapshot.")]
    overall = df[df["breakdown"] == ALL]
    dimensions = list(dict.fromkeys(overall["dimension"]))
    rows, cols = grid(len(dimensions))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, dimension in zip(axes.flat, dimensions, strict=False):
        part = overall[overall["dimension"] == dimension].sort_values("value")
        y = np.arange(len(part))
        ax.barh(y - 0.2, part["share"], height=0.4, color=COLORS[0], label="users")
        ax.barh(y + 0.2, part["spend_share"].fillna(0.0), height=0.4, color=COLORS[1], label="spend")
        ax.set_yticks(y, part["value"])
        ax.set_title(dimension)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    for ax in list(axes.flat)[len(dimensions) :]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right")
    out = [
        "<h3>Profile: share of users and of spend</h3>",
        img(png(fig), "profile distributions"),
        _note("Where the spend bar is longer than the users bar, that group spends more than its headcount."),
    ]
    for breakdown in dict.fromkeys(df.loc[df["breakdown"] != ALL, "breakdown"]):
        out += _profile_cross(df[df["breakdown"] == breakdown], breakdown, dimensions)
    return out


def _profile_cross(df: pd.DataFrame, breakdown: str, dimensions: list[str]) -> list[str]:
    """Per dimension, one stacked bar per breakdown value (e.g. grade A..D): the mix of the dimension."""
    rows, cols = grid(len(dimensions))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    for ax, dimension in zip(axes.flat, dimensions, strict=False):
        pivot = (
            df[df["dimension"] == dimension]
            .pivot_table(index="breakdown_value", columns="value", values="share", aggfunc="sum")
            .fillna(0.0)
            .sort_index()
        )
        left = np.zeros(len(pivot))
        for i, value in enumerate(pivot.columns):
            ax.barh(pivot.index, pivot[value], left=left, color=COLORS[i % len(COLORS)], label=str(value))
            left += pivot[value].to_numpy()
        ax.set_title(dimension)
        ax.invert_yaxis()  # the first value (grade A, tier high) on top
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    for ax in list(axes.flat)[len(dimensions) :]:
        ax.axis("off")
    return [
        f"<h3>Profile by {html.escape(breakdown)}</h3>",
        img(png(fig), f"profile by {breakdown}"),
        _note(f"Each bar is one {breakdown} value; its segments are the shares of that group's users."),
    ]


# -- consumption -----------------------------------------------------------------------------------
def _measures(df: pd.DataFrame | None) -> dict[str, float | None]:
    if _empty(df):
        return {}
    return {m: (None if pd.isna(v) else float(v)) for m, v in zip(df["measure"], df["value"], strict=True)}


_LABELS = {
    "buyers": ("Buyers", "{:,.0f}"),
    "orders": ("Kept orders", "{:,.0f}"),
    "revenue": ("Revenue", "{:,.2f}"),
    "gini": ("Gini of spend (0 = equal, 1 = one buyer has all)", "{:.3f}"),
    "median_order_value": ("Median order value", "{:,.2f}"),
    "median_repurchase_days": ("Median days between orders", "{:,.1f}"),
    "coupon_order_share": ("Orders with a coupon", "pct"),
    "discount_rate": ("Discount / gross amount", "pct"),
}


def _summary(df: pd.DataFrame | None, config: Config) -> list[str]:
    measures = _measures(df)
    if not measures:
        return [_note("No consumption figures for this snapshot.")]
    labels = dict(_LABELS)
    for share in config.analysis.consumption.top_shares:
        labels[top_measure(share)] = (f"Revenue share of the top {share:.0%} buyers", "pct")
    rows = []
    for measure, (label, fmt) in labels.items():
        value = measures.get(measure)
        text = "-" if value is None else _percent(value) if fmt == "pct" else fmt.format(value)
        rows.append((label, text))
    return [table(["Figure", "Value"], rows)]


def _rf_grid(df: pd.DataFrame | None) -> list[str]:
    if _empty(df):
        return [_note("R x F grid: no scored buyers with RFM scores.")]
    r_values = sorted(df["recency_score"].unique())
    f_values = sorted(df["frequency_score"].unique())
    users = np.zeros((len(r_values), len(f_values)))
    share = np.full((len(r_values), len(f_values)), np.nan)
    for row in df.itertuples():
        i, j = r_values.index(row.recency_score), f_values.index(row.frequency_score)
        users[i, j], share[i, j] = row.users, row.revenue_share if pd.notna(row.revenue_share) else np.nan
    fig, ax = plt.subplots(figsize=(6.5, 5))
    image = ax.imshow(users, cmap="YlGn", origin="lower")
    for i in range(len(r_values)):
        for j in range(len(f_values)):
            label = f"{users[i, j]:,.0f}\n{_percent(share[i, j]) if not np.isnan(share[i, j]) else '-'}"
            ax.text(j, i, label, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(f_values)), f_values)
    ax.set_yticks(range(len(r_values)), r_values)
    ax.set_xlabel("frequency score (5 = most orders)")
    ax.set_ylabel("recency score (5 = most recent)")
    fig.colorbar(image, ax=ax, label="users")
    return [
        "<h3>Recency x frequency</h3>",
        img(png(fig), "R x F heat map"),
        _note("Each cell: users and their share of revenue. Top right = recent, frequent buyers."),
    ]


def _lorenz(df: pd.DataFrame | None, summary: pd.DataFrame | None, config: Config) -> list[str]:
    if _empty(df) or df["revenue_share"].isna().all():
        return [_note("Spend concentration: no revenue in the window.")]
    points = df.sort_values("point")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="equal spend")
    ax.plot(points["population_share"], points["revenue_share"], color=COLORS[2], marker="o", label="buyers")
    ax.fill_between(points["population_share"], points["revenue_share"], points["population_share"], alpha=0.15)
    ax.set_xlabel("share of buyers (lowest spenders first)")
    ax.set_ylabel("share of revenue")
    ax.legend(loc="upper left")
    measures = _measures(summary)
    tops = ", ".join(
        f"top {s:.0%}: {_percent(measures.get(top_measure(s)))}" for s in config.analysis.consumption.top_shares
    )
    gini = measures.get("gini")
    return [
        "<h3>Spend concentration (Lorenz curve)</h3>",
        img(png(fig), "Lorenz curve"),
        _note(f"Gini {gini:.3f}; revenue share of the top buyers: {tops}." if gini is not None else tops),
    ]


def _mix(df: pd.DataFrame | None, key: str, title: str, value: str = "revenue_share") -> list[str]:
    if _empty(df):
        return []
    df = df.assign(label=np.where(df["family"] == ALL, "all buyers", df["family"] + ": " + df["segment"]))
    pivot = df.pivot_table(index="label", columns=key, values=value, aggfunc="sum").fillna(0.0)
    order = ["all buyers", *sorted(i for i in pivot.index if i != "all buyers")]
    pivot = pivot.loc[order[::-1]]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(pivot) + 1.5))
    left = np.zeros(len(pivot))
    for i, column in enumerate(pivot.columns):
        ax.barh(pivot.index, pivot[column], left=left, color=COLORS[i % len(COLORS)], label=str(column))
        left += pivot[column].to_numpy()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    return [f"<h3>{html.escape(title)}</h3>", img(png(fig), title)]


def _promotion(df: pd.DataFrame | None, config: Config) -> list[str]:
    if _empty(df):
        return []
    df = df.assign(first=df["family"] != ALL).sort_values(["first", "family", "segment"])
    rows = [
        (
            "all buyers" if r.family == ALL else f"{r.family}: {r.segment}",
            f"{r.buyers:,}",
            _percent(r.coupon_order_share),
            _percent(r.discount_rate),
            _percent(r.coupon_dependent_share),
        )
        for r in df.itertuples()
    ]
    share = config.analysis.consumption.coupon_dependence_share
    return [
        "<h3>Coupon and discount dependence</h3>",
        table(["Segment", "Buyers", "Orders with coupon", "Discount rate", "Coupon-dependent buyers"], rows),
        _note(f"Coupon-dependent: at least {share:.0%} of the buyer's orders used a coupon."),
    ]


def _histograms(df: pd.DataFrame | None) -> list[str]:
    if _empty(df):
        return []
    titles = {"order_value": "Order value", "repurchase_days": "Days between a buyer's orders"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), squeeze=False)
    for ax, (measure, title) in zip(axes.flat, titles.items(), strict=True):
        part = df[df["measure"] == measure].sort_values("bin")
        labels = [
            f"{lo:g}-{hi:g}" if pd.notna(hi) else f"{lo:g}+"
            for lo, hi in zip(part["lower"], part["upper"], strict=True)
        ]
        ax.bar(range(len(part)), part["share"], color=COLORS[0])
        ax.set_xticks(range(len(part)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(title)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    return [
        "<h3>Order value and repurchase interval</h3>",
        img(png(fig), "order value and repurchase interval histograms"),
        _note("Share of kept orders per order-value band, and of repeat orders per gap since the previous one."),
    ]


def _payment(df: pd.DataFrame | None) -> list[str]:
    if _empty(df):
        return ["<h3>Payment methods</h3>", _note("The orders carry no payment method: no payment mix.")]
    return _mix(df, "payment_method", "Payment methods by segment (share of orders)", value="order_share")
