"""The interests section of the analysis report: a heat map per breakdown (groups x interest categories)
and interest-to-purchase conversion per category, from the written tables' partition D (bounded)."""

from __future__ import annotations

import html
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from userscore.charts import COLORS, img, png, table
from userscore.config import Config
from userscore.features.interests import NONE

# Heat maps show the largest groups only: a breakdown with hundreds of values would be unreadable.
MAX_GROUPS = 20


def _ordered_breakdowns(share: pd.DataFrame) -> list[str]:
    """Segment families first (the heat map marketing asks for), then the score columns, by name."""
    names = sorted(share["breakdown"].unique())
    return sorted(names, key=lambda b: (not b.startswith("segment:"), b))


def heat_map(share: pd.DataFrame, breakdown: str, categories: list[str]) -> str:
    """Groups x categories of one breakdown: cell text = share of the group's users, colour = lift."""
    rows = share[share["breakdown"] == breakdown]
    sizes = rows.groupby("group_value")["group_users"].max().sort_values(ascending=False)
    groups = list(sizes.index[:MAX_GROUPS])
    columns = [c for c in categories if c in set(rows["category"])]
    shares = rows.pivot(index="group_value", columns="category", values="share").reindex(index=groups, columns=columns)
    lifts = rows.pivot(index="group_value", columns="category", values="lift").reindex(index=groups, columns=columns)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(columns), 1.2 + 0.45 * len(groups)))
    top = max(2.0, float(np.nanmax(lifts.to_numpy(dtype=float))) if lifts.size else 2.0)
    image = ax.imshow(lifts.to_numpy(dtype=float), cmap="PRGn", norm=TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=top))
    ax.set_xticks(range(len(columns)), [c if c != NONE else "(no interest)" for c in columns], rotation=40, ha="right")
    ax.set_yticks(range(len(groups)), [f"{g} ({sizes[g]:,})" for g in groups])
    for y in range(len(groups)):
        for x in range(len(columns)):
            value, lift = shares.iat[y, x], lifts.iat[y, x]
            if pd.notna(value):
                # White text on the dark ends of the scale, black in between.
                dark = pd.notna(lift) and (lift < 0.35 or lift > 1.0 + 0.7 * (top - 1.0))
                ax.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="lift vs all users")
    ax.set_title(f"Interests by {breakdown}")
    return img(png(fig), f"interest heat map by {breakdown}")


def _duration(days: float | None) -> str | None:
    """Days as a marketer reads them: hours under a day ("0.5 h"), else days ("3.2 days")."""
    if days is None or pd.isna(days):
        return None
    return f"{24 * days:.1f} h" if days < 1 else f"{days:.1f} days"


def conversion_chart(conversion: pd.DataFrame) -> str:
    rows = conversion.sort_values("conversion_rate", ascending=False)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(rows["category"], rows["conversion_rate"], color=COLORS[0])
    ax.set_ylabel("bought within the window")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.tick_params(axis="x", rotation=40)
    ax.set_title("Interest-to-purchase conversion by category")
    return img(png(fig), "interest-to-purchase conversion by category")


def section(frames: Mapping[str, pd.DataFrame], config: Config) -> str:
    """The HTML fragment of the interests analysis."""
    tables = config.analysis.interests.tables
    window = config.analysis.interests.conversion.window_days
    categories = [*config.features.preference.categories, NONE]
    share, conversion = frames.get(tables.share), frames.get(tables.conversion)
    parts = ["<h2>Interest preference</h2>"]
    if share is None or share.empty:
        parts.append('<p class="note">No interest shares for this date.</p>')
    else:
        parts.append(
            '<p class="note">Each cell: the share of the group\'s users with the category among their top 3 '
            "interests. Colour: how much more (green) or less (purple) common that is than across all users "
            "(lift; white = as common). Interests weigh searches, views, favourites, carts, comments, shares "
            "and purchases, recent ones most, and favour what sets a user apart over what everyone browses.</p>"
        )
        parts += [heat_map(share, b, categories) for b in _ordered_breakdowns(share)]
    parts.append("<h3>Does interest turn into purchases?</h3>")
    if conversion is None or conversion.empty:
        parts.append('<p class="note">No conversion figures for this date.</p>')
        return "\n".join(parts)
    parts.append(
        f'<p class="note">Of the users who first showed interest in a category (search, view, favourite, cart, '
        f"comment or share) at least {window} days before {html.escape(str(conversion['as_of_date'].iloc[0]))}, "
        f"the share who bought in that category within {window} days.</p>"
    )
    parts.append(conversion_chart(conversion))
    ordered = conversion.sort_values(["conversion_rate", "category"], ascending=[False, True])
    rows = [
        [
            r.category,
            f"{int(r.interested_users):,}",
            f"{int(r.converted_users):,}",
            f"{r.conversion_rate:.1%}",
            _duration(r.median_days_to_purchase),
        ]
        for r in ordered.itertuples()
    ]
    parts.append(table(["category", "interested", "bought", "conversion", "median time to buy"], rows))
    return "\n".join(parts)
