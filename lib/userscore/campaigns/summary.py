"""The job summary: one line per campaign (its lift with the interval, or why it is unreadable) and one per
campaign type with an uplift model (how many users to contact next)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from userscore.campaigns.pipeline import CampaignReading


def summary_lines(
    reading: CampaignReading, lift_table: str, ranking_table: str, recommendations_table: str
) -> list[str]:
    lines = [f"campaigns measured at {reading.as_of}: {len(reading.overall)}", *reading.notes]
    for r in reading.overall:
        head = f"{r['campaign_id']} ({r['campaign_type'] or 'no type'}, {r['campaign_date']}): " + (
            f"{r['treated_users']:,} treated / {r['control_users']:,} control"
        )
        if not r["readable"]:
            lines.append(f"{head}; unreadable: {r['unreadable_reason']}")
            continue
        window = "" if r["window_complete"] else "; window still open"
        lines.append(
            f"{head}; conversion {r['conversion_rate_treated']:.1%} vs {r['conversion_rate_control']:.1%}, "
            f"lift {100 * r['abs_lift']:+.1f} pts [{100 * r['abs_lift_low']:+.1f}, {100 * r['abs_lift_high']:+.1f}]; "
            f"incremental revenue {r['incremental_revenue']:,.0f}, margin {r['incremental_margin']:,.0f}, "
            f"cost {r['cost']:,.0f}, ROI {_roi(r['roi'])}{window}"
        )
    for r in reading.rankings:
        lines.append(
            f"{r['campaign_id']} ranked by {r['score']}: Qini coefficient {_number(r['qini_coefficient'])}, "
            f"uplift AUC {_number(r['uplift_auc'])} ({r['scored_users']:,} users)"
        )
    lines += [recommendation_line(r, reading.recommendations) for r in reading.recommendations if r["best"]]
    lines += [
        f"lift: {lift_table} ({len(reading.rows)} rows at {reading.as_of})",
        f"ranking: {ranking_table} ({len(reading.rankings)} rows)",
        f"recommendations: {recommendations_table} ({len(reading.recommendations)} rows)",
        f"campaign report: {reading.report_path}",
    ]
    return lines


def recommendation_line(best: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    """What to do next for one campaign type, from its best row (``rows``: every type's rows)."""
    head = f"{best['campaign_type']} ({best['scored_users']:,} users scored {best['scores_date']})"
    if best["users"] == 0:
        mine = [r for r in rows if r["campaign_type"] == best["campaign_type"] and r["users"] > 0]
        least = max(mine, key=lambda r: (r["expected_net_margin"], -r["share"]))
        return (
            f"{head}: contact nobody: every audience loses money (the least: the top {least['share']:.0%}, "
            f"{_users(least['users'])}, expected net margin {least['expected_net_margin']:,.2f})"
        )
    return (
        f"{head}: contact the top {best['share']:.0%} ({_users(best['users'])}, uplift >= "
        f"{best['uplift_threshold']:.3f}): expected {best['expected_incremental_conversions']:+,.1f} incremental "
        f"conversions, incremental margin {best['expected_incremental_margin']:,.2f}, contact cost "
        f"{best['contact_cost']:,.2f}, expected net margin {best['expected_net_margin']:,.2f}"
    )


def _users(n: int) -> str:
    return f"{n:,} user" if n == 1 else f"{n:,} users"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _roi(value: float | None) -> str:
    return "n/a (no cost)" if value is None else f"{value:+.2f}"
