"""The job summary: one line per campaign (its lift with the interval, or why it is unreadable)."""

from __future__ import annotations

from userscore.campaigns.pipeline import CampaignReading


def summary_lines(reading: CampaignReading, lift_table: str, ranking_table: str) -> list[str]:
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
    lines += [
        f"lift: {lift_table} ({len(reading.rows)} rows at {reading.as_of})",
        f"ranking: {ranking_table} ({len(reading.rankings)} rows)",
        f"campaign report: {reading.report_path}",
    ]
    return lines


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _roi(value: float | None) -> str:
    return "n/a (no cost)" if value is None else f"{value:+.2f}"
