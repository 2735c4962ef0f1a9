"""The monitor report: ONE self-contained HTML file (charts as base64 PNGs, inline CSS, no scripts, no
network) drawn from the run's bounded aggregates: alerts first, then the ladder at D, score distributions
and tier/grade shares over time, the PSI heat map, calibration and lift of matured snapshots."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from userscore.charts import COLORS, grid, img, page, plt, png, table
from userscore.monitoring.outcome import MonitorOutcome

_BAND_COLORS = {
    "high": "#d73027", "mid": "#fdae61", "low": "#91bfdb",
    "A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#fc8d59",
}  # fmt: skip


def distributions_chart(outcome: MonitorOutcome) -> str | None:
    """Per score: p05-p95 and p10-p90 bands, median and mean over snapshots; the reference median dotted."""
    dates = sorted(outcome.history)
    scores = [w.score for w in outcome.watched if any(w.score in outcome.history[d] for d in dates)]
    if not scores:
        return None
    rows, cols = grid(len(scores))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.3 * rows), squeeze=False)
    refs = {r.score: r for r in outcome.references.values()}
    for ax, score in zip(axes.flat, scores, strict=False):
        series = [outcome.history[d].get(score, {}) for d in dates]

        def stat(key: str, series=series) -> list[float]:
            return [c.get(("stat", key), (None, 0))[0] for c in series]

        x = list(range(len(dates)))
        lo5, hi95, lo10, hi90 = stat("p05"), stat("p95"), stat("p10"), stat("p90")
        if all(v is not None for v in (*lo5, *hi95)):
            ax.fill_between(x, lo5, hi95, color="#c6dbef", label="p05-p95")
        if all(v is not None for v in (*lo10, *hi90)):
            ax.fill_between(x, lo10, hi90, color="#6baed6", label="p10-p90")
        ax.plot(x, stat("p50"), color="#08306b", marker="o", label="median")
        ax.plot(x, stat("mean"), color="#d94801", marker=".", linestyle="--", label="mean")
        ref = refs.get(score)
        if ref is not None and ref.cells.get(("stat", "p50")) is not None:
            ax.axhline(
                ref.cells[("stat", "p50")], color="grey", linestyle=":", label=f"reference median (v{ref.version})"
            )
        ax.set_xticks(x, [d.strftime("%m-%d") for d in dates], rotation=45, fontsize=8)
        ax.set_title(score, fontsize=11)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(scores) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    return png(fig)


def bands_chart(outcome: MonitorOutcome) -> str | None:
    """Per banded score: stacked shares of each tier / grade per snapshot (reference as the last bar)."""
    dates = sorted(outcome.history)
    banded = [w for w in outcome.watched if w.band and w.bands and any(w.score in outcome.history[d] for d in dates)]
    if not banded or not dates:
        return None
    rows, cols = grid(len(banded), 4)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    refs = {r.score: r for r in outcome.references.values()}
    for ax, w in zip(axes.flat, banded, strict=False):
        labels = [d.strftime("%m-%d") for d in dates]
        shares = {b: [outcome.history[d].get(w.score, {}).get(("band", b), (None, 0))[0] or 0.0 for d in dates]
                  for b in w.bands}  # fmt: skip
        ref = refs.get(w.score)
        if ref is not None:
            labels.append("ref")
            for b in w.bands:
                shares[b].append(ref.cells.get(("band", b)) or 0.0)
        bottom = [0.0] * len(labels)
        for i, b in enumerate(w.bands):
            color = _BAND_COLORS.get(b, COLORS[i % len(COLORS)])
            ax.bar(labels, shares[b], bottom=bottom, color=color, label=b, edgecolor="white", linewidth=0.5)
            bottom = [a + s for a, s in zip(bottom, shares[b], strict=True)]
        ax.set_ylim(0, 1)
        ax.set_title(f"{w.band}", fontsize=11)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    for ax in list(axes.flat)[len(banded) :]:
        ax.axis("off")
    return png(fig)


def psi_heatmap(outcome: MonitorOutcome, top: int) -> str | None:
    """PSI of scores and the most drifting features (rows) per monitored date and baseline (columns)."""
    rows = outcome.drift_history or outcome.drift
    if not rows:
        return None
    columns = sorted({(r["as_of_date"], r["baseline"], r["target"]) for r in rows})
    current = [r for r in outcome.drift if r["as_of_date"] == outcome.as_of]
    worst: dict[str, float] = {}
    for r in current or rows:
        if r["kind"] == "feature":
            worst[r["name"]] = max(worst.get(r["name"], 0.0), r["psi"])
    features = sorted(worst, key=lambda n: -worst[n])[:top]
    scores = sorted({r["name"] for r in rows if r["kind"] == "score"})
    names = [*scores, *features]
    if not names:
        return None
    value = {(r["name"], r["as_of_date"], r["baseline"], r["target"]): r["psi"] for r in rows}
    import numpy as np

    grid = np.full((len(names), len(columns)), np.nan)
    for i, n in enumerate(names):
        for j, c in enumerate(columns):
            grid[i, j] = value.get((n, *c), np.nan)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(columns) + 4), 0.38 * len(names) + 2.2))
    cmap = plt.get_cmap("RdYlGn_r").copy()
    cmap.set_bad("#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=0.4, aspect="auto")
    for i in range(len(names)):
        for j in range(len(columns)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] > 0.3 else "black")  # fmt: skip
    labels = [f"{d:%m-%d}\n{'prev' if b == 'previous' else 'ref ' + t}" for d, b, t in columns]
    ax.set_xticks(range(len(columns)), labels, fontsize=8)
    ax.set_yticks(range(len(names)), [f"{n} (score)" if n in scores else n for n in names], fontsize=8)
    ax.axhline(len(scores) - 0.5, color="black", linewidth=1)
    fig.colorbar(image, ax=ax, label="PSI (0.1 watch, 0.2 shift)")
    ax.set_title("Population stability index by monitored date and baseline")
    return png(fig)


def calibration_chart(outcome: MonitorOutcome) -> str | None:
    """Per target: mean predicted vs observed rate per decile for each matured snapshot, and lift bars."""
    targets = sorted({r["target"] for r in outcome.accuracy})
    if not targets:
        return None
    fig, axes = plt.subplots(len(targets), 2, figsize=(11, 3.8 * len(targets)), squeeze=False)
    for (left, right), target in zip(axes, targets, strict=True):
        rows = [r for r in outcome.accuracy if r["target"] == target and r["level"] == "decile" and r["rows"]]
        snapshots = sorted({(r["snapshot_date"], r["model_version"]) for r in rows})
        overall = {(r["snapshot_date"], r["model_version"]): r for r in outcome.accuracy
                   if r["target"] == target and r["level"] == "overall"}  # fmt: skip
        for i, key in enumerate(snapshots):
            mine = sorted((r for r in rows if (r["snapshot_date"], r["model_version"]) == key),
                          key=lambda r: r["mean_predicted"])  # fmt: skip
            auc = overall.get(key, {}).get("auc")
            label = f"{key[0]} v{key[1]}" + (f" AUC {auc:.3f}" if auc is not None else "")
            color = COLORS[i % len(COLORS)]
            left.plot([r["mean_predicted"] for r in mine], [r["observed_rate"] for r in mine], marker="o",
                      color=color, label=label)  # fmt: skip
            width = 0.8 / max(len(snapshots), 1)
            deciles = sorted(mine, key=lambda r: int(r["bucket"]))
            right.bar([int(r["bucket"]) + (i - (len(snapshots) - 1) / 2) * width for r in deciles],
                      [r["lift"] or 0.0 for r in deciles], width=width, color=color, label=str(key[0]))  # fmt: skip
        left.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        left.set(xlabel="mean predicted probability (decile)", ylabel="observed rate", title=f"{target}: calibration",
                 xlim=(0, 1), ylim=(0, 1))  # fmt: skip
        left.legend(fontsize=7, loc="upper left")
        right.axhline(1.0, color="grey", linestyle=":")
        right.set(xlabel="decile (1 = highest scores)", ylabel="lift", title=f"{target}: lift by decile",
                  xticks=range(1, 11))  # fmt: skip
        right.legend(fontsize=7, loc="upper right")
    return png(fig)


def _band_text(name: str, row: Mapping) -> str:
    change = row.get("change_vs_previous")
    return f"{name} {row['value']:.0%}" + (f" ({change:+.0%})" if change is not None else "")


def _ladder_table(outcome: MonitorOutcome) -> str:
    cells: dict[str, dict[str, Mapping]] = {}
    for r in outcome.ladder:
        cells.setdefault(r["score"], {})[f"{r['kind']}:{r['key']}"] = r
    rows = []
    for w in outcome.watched:
        c = cells.get(w.score)
        if not c:
            continue
        mean = c.get("stat:mean", {})
        bands = " · ".join(
            _band_text(b, c[f"band:{b}"]) for b in w.bands if c.get(f"band:{b}", {}).get("value") is not None
        )
        rows.append(
            [w.score, mean.get("value"), c.get("stat:p10", {}).get("value"), c.get("stat:p50", {}).get("value"),
             c.get("stat:p90", {}).get("value"), mean.get("previous_value"), mean.get("reference_value"), bands or None]
        )  # fmt: skip
    return table(["score", "mean", "p10", "median", "p90", "mean prev", "mean ref", "bands (Δ vs prev)"], rows)


def _drift_table(outcome: MonitorOutcome, top: int) -> str:
    rows = sorted(outcome.drift, key=lambda r: (r["kind"] != "score", -r["psi"]))
    scores = [r for r in rows if r["kind"] == "score"]
    features = [r for r in rows if r["kind"] == "feature"][:top]
    shown = [*scores, *features]
    classes = ["bad" if r["psi"] > 0.2 else "warn" if r["psi"] > 0.1 else "" for r in shown]
    return table(
        ["kind", "column", "baseline", "baseline date", "PSI", "bins"],
        [[r["kind"], r["name"], r["baseline"] + (f" {r['target']} v{r['model_version']}" if r["target"] else ""),
          r["baseline_date"], r["psi"], r["bins"]] for r in shown],
        classes,
    )  # fmt: skip


def _accuracy_table(outcome: MonitorOutcome) -> str:
    rows = [r for r in outcome.accuracy if r["level"] == "overall"]
    tiers: dict[tuple, list[str]] = {}
    for r in outcome.accuracy:
        if r["level"] == "tier" and r["rows"]:
            tiers.setdefault((r["target"], r["snapshot_date"], r["model_version"]), []).append(
                f"{r['bucket']} {r['observed_rate']:.1%} ({r['rows']:,})"
            )
    return table(
        ["target", "snapshot", "version", "users", "predicted", "observed", "AUC", "training AUC", "drop",
         "tier hit rates"],
        [[r["target"], r["snapshot_date"], r["model_version"], r["rows"], r["mean_predicted"], r["observed_rate"],
          r["auc"], r["training_auc"], r["auc_drop"],
          " · ".join(tiers.get((r["target"], r["snapshot_date"], r["model_version"]), [])) or None] for r in rows],
        ["bad" if (r["auc_drop"] or 0) > 0.05 else "" for r in rows],
    )  # fmt: skip


def render(outcome: MonitorOutcome, top_features: int = 10) -> str:
    """The report as one HTML string."""
    esc = html.escape
    models = ", ".join(
        f"{i.model_name} v{i.version} (validated on {i.validation_date})" for i in outcome.models.values()
    )
    if outcome.alerts:
        alert_html = (
            f'<div class="alerts"><b>{len(outcome.alerts)} alert(s)</b></div>'
            + table(["severity", "rule", "subject", "baseline", "value", "threshold", "message"],
                     [[a["severity"], a["rule"], a["subject"], a["baseline"], a["value"], a["threshold"], a["message"]]
                      for a in outcome.alerts],
                     ["bad" if a["severity"] == "critical" else "warn" for a in outcome.alerts])
        )  # fmt: skip
    else:
        alert_html = '<div class="ok">No alert fired.</div>'
    sections = [
        f"<h1>userscore monitor: {outcome.as_of}</h1>",
        f'<div class="meta">previous snapshot {outcome.previous or "-"} · champions: {esc(models or "none")} · '
        f"generated from monitor.* aggregates</div>",
        "<h2>Alerts</h2>",
        alert_html,
        f"<h2>Score ladder at {outcome.as_of}</h2>",
        _ladder_table(outcome),
    ]
    charts = [
        ("Score distributions over time", distributions_chart(outcome),
         "Shaded: p05-p95 and p10-p90; line: median; dashed: mean; dotted: the champion's validation median."),
        ("Tier and grade shares over time", bands_chart(outcome), "Last bar ('ref'): the training reference."),
        ("Drift (PSI) heat map", psi_heatmap(outcome, top_features),
         "Scores first, then the most drifting model features; grey: not computed."),
    ]  # fmt: skip
    for title, data, note in charts:
        sections.append(f"<h2>{esc(title)}</h2>")
        sections.append(img(data, title) + f'<div class="note">{esc(note)}</div>' if data else
                        '<div class="note">Not enough data yet.</div>')  # fmt: skip
    sections.append(f"<h2>Drift at {outcome.as_of}</h2>")
    sections.append(
        _drift_table(outcome, top_features) if outcome.drift else '<div class="note">No drift computed.</div>'
    )
    sections.append("<h2>Realised accuracy of matured snapshots</h2>")
    if outcome.accuracy:
        sections.append(_accuracy_table(outcome))
        chart = calibration_chart(outcome)
        if chart:
            sections.append(img(chart, "calibration and lift"))
    else:
        sections.append('<div class="note">No scored snapshot has matured its horizon yet.</div>')
    if outcome.notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in outcome.notes) + "</ul>")
    return page(f"userscore monitor {outcome.as_of}", sections)


def write_report(outcome: MonitorOutcome, path: Path, top_features: int = 10) -> Path:
    """Write the report to ``path`` (folders created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(outcome, top_features), encoding="utf-8")
    return path
