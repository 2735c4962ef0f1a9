"""The campaign report: ONE self-contained HTML file drawn from the campaigns.lift rows of a run (bounded
aggregates): a table per campaign (unreadable ones with the reason), lift per cell with its interval,
cumulative incremental revenue over the campaigns, uplift by decile of each scored ranking with its
Qini curve, and from campaigns.recommendations the expected net margin against the audience share."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from userscore.campaigns.measure import ALL
from userscore.charts import COLORS, img, page, plt, png, table
from userscore.config.campaigns import DECILE_SUFFIX, CampaignsConfig

Row = Mapping[str, Any]


def qini_points(decile_rows: Sequence[Row]) -> list[tuple[float, float]]:
    """The Qini curve over deciles 1 (highest score) .. 10 of one campaign: (share of users targeted,
    incremental conversions) after each decile, with Q = Y_t - Y_c * N_t / N_c over the targeted users
    (scikit-uplift's qini_curve, at decile boundaries); starts at (0, 0)."""
    by_decile = sorted((int(r["cell"].rsplit("=", 1)[1]), r) for r in decile_rows if not r["cell"].endswith("unknown"))
    total = sum(r["treated_users"] + r["control_users"] for _, r in by_decile)
    points = [(0.0, 0.0)]
    n_t = n_c = y_t = y_c = 0
    for _, r in by_decile:
        n_t += r["treated_users"]
        n_c += r["control_users"]
        y_t += r["treated_conversions"]
        y_c += r["control_conversions"]
        points.append(((n_t + n_c) / total, y_t - y_c * n_t / n_c if n_c else 0.0))
    return points


def write_report(
    rows: Sequence[Row],
    rankings: Sequence[Row],
    recommendations: Sequence[Row],
    cfg: CampaignsConfig,
    as_of: dt.date,
    path: Path,
) -> Path:
    """Write the report to ``path`` (folders created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(rows, rankings, recommendations, cfg, as_of), encoding="utf-8")
    return path


def render(
    rows: Sequence[Row], rankings: Sequence[Row], recommendations: Sequence[Row], cfg: CampaignsConfig, as_of: dt.date
) -> str:
    overall = sorted((r for r in rows if r["breakdown"] == ALL), key=lambda r: (r["campaign_date"], r["campaign_id"]))
    sections = [
        f"<h1>Campaigns measured at {as_of}</h1>",
        f'<p class="meta">{len(overall)} campaign(s) with a first send in the {cfg.lookback_days} days before '
        f"{as_of}; intervals at {cfg.confidence:.0%}; conversions are orders (and the type's events) in the "
        f"attribution window, counted up to {as_of}.</p>",
        "<h2>Campaigns</h2>",
        _campaign_table(overall),
    ]
    if rankings:
        sections += [
            "<h2>Does a score rank the uplift?</h2>",
            '<p class="note">Qini coefficient and uplift AUC (1: the perfect ranking, 0: random, below 0: worse '
            f"than random) and the lift among the top {cfg.uplift_at_k:.0%} by score, with scikit-uplift's "
            "definitions. A propensity score ranks likely buyers, who often buy anyway.</p>",
            table(
                ["campaign", "score", "users", "Qini coefficient", "uplift AUC", f"lift at top {cfg.uplift_at_k:.0%}"],
                [
                    [
                        r["campaign_id"],
                        r["score"],
                        str(r["scored_users"]),
                        _ratio(r["qini_coefficient"]),
                        _ratio(r["uplift_auc"]),
                        _pts(r["uplift_at_k"]),
                    ]
                    for r in rankings
                ],  # fmt: skip
            ),
        ]
    readable = [r for r in overall if r["readable"]]
    if readable:
        sections += ["<h2>Cumulative incremental revenue</h2>", img(_cumulative_chart(readable), "cumulative")]
    for name, breakdown in cfg.breakdowns.items():
        cells = [r for r in rows if r["breakdown"] == name and r["readable"]]
        if not cells:
            continue
        sections += [f"<h2>Lift by {html.escape(name)}</h2>", img(_lift_chart(cells), f"lift by {name}")]
        if len(breakdown.dimensions) == 1 and breakdown.dimensions[0].endswith(DECILE_SUFFIX):
            sections += [
                f"<h3>Qini curve over {html.escape(name)}</h3>",
                '<p class="note">Incremental conversions when contacting the highest deciles first; the '
                "diagonal is random targeting. A curve under the diagonal means the score picks users the "
                "contact changes less than average (sure things, sleeping dogs).</p>",
                img(_qini_chart(cells), f"qini {name}"),
            ]
    if recommendations:
        sections += _recommendation_sections(recommendations)
    return page(f"userscore campaigns {as_of}", sections)


def _recommendation_sections(recommendations: Sequence[Row]) -> list[str]:
    types = list(dict.fromkeys(r["campaign_type"] for r in recommendations))
    header = [
        "type", "scores of", "model version", "best share", "users", "uplift threshold", "incremental conversions",
        "incremental margin", "contact cost", "net margin",
    ]  # fmt: skip
    best = [
        [
            r["campaign_type"], str(r["scores_date"]), r["model_version"], f"{r['share']:.0%}", str(r["users"]),
            r["uplift_threshold"], _number(r["expected_incremental_conversions"], "{:+,.1f}"),
            _money(r["expected_incremental_margin"]), _money(r["contact_cost"]), _money(r["expected_net_margin"]),
        ]
        for r in recommendations
        if r["best"]
    ]  # fmt: skip
    return [
        "<h2>Whom to contact next</h2>",
        '<p class="note">From the latest scores: the users ranked by the type\'s predicted uplift, highest '
        "first; contacting the top share of them is expected to add the sum of their uplifts in conversions, "
        "worth their uplift x the margin per conversion, at the contact cost of each. The best share has the "
        "highest expected net margin; share 0 (contact nobody) wins when every audience loses money. "
        "Expected values from the model, not measured lift.</p>",
        table(header, best),
        img(_net_margin_chart(recommendations, types), "expected net margin against audience share"),
    ]


def _net_margin_chart(recommendations: Sequence[Row], types: Sequence[str]) -> str:
    fig, axes = plt.subplots(1, len(types), figsize=(6 * len(types), 3.6), squeeze=False)
    for ax, kind in zip(axes.flat, types, strict=True):
        mine = sorted((r for r in recommendations if r["campaign_type"] == kind), key=lambda r: r["share"])
        shares = [100 * r["share"] for r in mine]
        ax.plot(shares, [r["expected_net_margin"] for r in mine], marker=".", color=COLORS[0], label="net margin")
        ax.plot(shares, [r["expected_incremental_margin"] for r in mine], linestyle="--", color=COLORS[1],
                label="incremental margin")  # fmt: skip
        ax.plot(shares, [r["contact_cost"] for r in mine], linestyle=":", color=COLORS[2], label="contact cost")
        best = next(r for r in mine if r["best"])
        ax.axvline(100 * best["share"], color="black", linewidth=0.8, linestyle="--")
        ax.annotate(f"best: {best['share']:.0%}", (100 * best["share"], best["expected_net_margin"]), fontsize=8)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(f"{kind}: expected value by audience share", fontsize=10)
        ax.set_xlabel("share of scored users contacted, highest uplift first (%)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return png(fig)


def _campaign_table(overall: Sequence[Row]) -> str:
    header = [
        "campaign", "type", "date", "window complete", "treated", "control", "contaminated", "response rate",
        "conversion (treated)", "conversion (control)", "lift (pts)", "lift interval", "incremental revenue",
        "revenue interval (bootstrap)", "cost", "ROI", "status",
    ]  # fmt: skip
    body, classes = [], []
    for r in overall:
        status = "readable" if r["readable"] else f"unreadable: {r['unreadable_reason']}"
        body.append(
            [
                r["campaign_id"], r["campaign_type"], str(r["campaign_date"]), str(r["window_complete"]),
                str(r["treated_users"]), str(r["control_users"]), str(r["contaminated_control_users"]),
                _pct(r["response_rate"]), _pct(r["conversion_rate_treated"]), _pct(r["conversion_rate_control"]),
                _pts(r["abs_lift"]), _interval(r["abs_lift_low"], r["abs_lift_high"], _pts),
                _money(r["incremental_revenue"]),
                _interval(_scaled(r["revenue_lift_boot_low"], r), _scaled(r["revenue_lift_boot_high"], r), _money),
                _money(r["cost"]), _ratio(r["roi"]), status,
            ]
        )  # fmt: skip
        classes.append("" if r["readable"] else "bad")
    return table(header, body, classes)


def _lift_chart(cells: Sequence[Row]) -> str:
    campaigns = sorted({r["campaign_id"] for r in cells})
    fig, axes = plt.subplots(len(campaigns), 1, figsize=(10, 2.2 + 0.35 * len(cells) / len(campaigns)), squeeze=False)
    for ax, campaign in zip(axes.flat, campaigns, strict=True):
        mine = sorted((r for r in cells if r["campaign_id"] == campaign), key=lambda r: r["cell"])
        y = list(range(len(mine)))
        lift = [100 * (r["abs_lift"] or 0) for r in mine]
        low = [100 * (r["abs_lift"] - r["abs_lift_low"]) if r["abs_lift_low"] is not None else 0 for r in mine]
        high = [100 * (r["abs_lift_high"] - r["abs_lift"]) if r["abs_lift_high"] is not None else 0 for r in mine]
        colors = ["#bbbbbb" if r["min_sample"] else COLORS[0] for r in mine]
        ax.barh(y, lift, xerr=[low, high], color=colors, capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, [f"{r['cell']} (n={r['treated_users']}/{r['control_users']})" for r in mine], fontsize=8)
        ax.set_title(f"{campaign}: conversion lift, points (grey: below min_group_size)", fontsize=10)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    return png(fig)


def _cumulative_chart(overall: Sequence[Row]) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    total, xs, ys = 0.0, [], []
    for r in overall:
        total += r["incremental_revenue"] or 0.0
        xs.append(f"{r['campaign_date']:%m-%d}\n{r['campaign_id']}")
        ys.append(total)
    ax.plot(range(len(xs)), ys, marker="o", color=COLORS[1])
    ax.set_xticks(range(len(xs)), xs, fontsize=7)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("incremental revenue, cumulative")
    ax.grid(alpha=0.3)
    return png(fig)


def _qini_chart(cells: Sequence[Row]) -> str:
    campaigns = sorted({r["campaign_id"] for r in cells})
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, campaign in enumerate(campaigns):
        points = qini_points([r for r in cells if r["campaign_id"] == campaign])
        color = COLORS[i % len(COLORS)]
        ax.plot(*zip(*points, strict=True), marker=".", color=color, label=campaign)
        ax.plot([0, 1], [0, points[-1][1]], linestyle=":", color=color)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("share of users targeted (highest decile first)")
    ax.set_ylabel("incremental conversions")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return png(fig)


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{100 * v:.1f}%"


def _pts(v: float | None) -> str | None:
    return None if v is None else f"{100 * v:+.1f}"


def _number(v: float | None, fmt: str) -> str | None:
    return None if v is None else fmt.format(v)


def _money(v: float | None) -> str | None:
    return None if v is None else f"{v:,.0f}"


def _ratio(v: float | None) -> str | None:
    return None if v is None or math.isnan(v) else f"{v:+.2f}"


def _scaled(per_user: float | None, r: Row) -> float | None:
    return None if per_user is None else per_user * r["treated_users"]


def _interval(low, high, fmt) -> str | None:
    return None if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"
