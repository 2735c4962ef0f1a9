"""Config section ``analysis``: the user-base analyses (jobs/analyze.py, ``userscore analyze --as-of D``).

The job reads one snapshot D (scores, features, segments, silver) and writes bounded aggregates to the
``analysis`` table layer (partition as_of_date = D, replaceWhere) and one self-contained HTML report.
The common settings (inputs, event look-back, the per-user event cap, the report folder) live in
conf/base/analysis.yaml; each analysis is declared in its own section: funnels (config/funnels.py),
behaviour paths (config/paths.py), basic profile and consumption (config/consumption.py), interests
(config/interests.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from userscore.config.analysis_inputs import AnalysisInputTables
from userscore.config.consumption import ConsumptionAnalysis, ProfileAnalysis
from userscore.config.consumption import reference_errors as consumption_reference_errors
from userscore.config.funnels import FunnelsAnalysis
from userscore.config.funnels import reference_errors as funnels_reference_errors
from userscore.config.interests import InterestsAnalysis
from userscore.config.interests import reference_errors as interests_reference_errors
from userscore.config.paths import PathsAnalysis, funnel_errors
from userscore.config.paths import reference_errors as paths_reference_errors
from userscore.config.typed import Count, Days, KeyPath, frozen


@frozen
class AnalysisConfig:
    """The analysis job's common settings and its sections.

    lookback_days: events in [D - lookback_days, D) are analysed (a funnel window cannot reach further back).
    max_events_per_user: the latest this many events of a user in the look-back are kept: a bot with millions
        of events would otherwise make one task hold all of them (every per-user step groups by user).
    report_dir: the HTML report goes to ``<report_dir>/analysis-<D>.html``.
    missing_label: how every analysis shows a missing value (a null profile value, a user without a score
        value or a segment of a breakdown, an order without a category or payment method).
    """

    inputs: AnalysisInputTables
    lookback_days: Days
    max_events_per_user: Count
    report_dir: str
    missing_label: str
    funnels: FunnelsAnalysis
    paths: PathsAnalysis
    profile: ProfileAnalysis
    consumption: ConsumptionAnalysis
    interests: InterestsAnalysis


def reference_errors(
    analysis: AnalysisConfig, tables: Mapping[str, object], families: Collection[str]
) -> Iterator[tuple[KeyPath, str, str]]:
    """Undefined input tables, funnel windows longer than the look-back, then each section's own checks
    (``families``: the segment families, which funnel breakdowns may name). The sections read their input
    tables' columns from ``analysis.inputs``: an undefined input is reported once, here, at its key."""
    known = sorted(tables)
    for key in ("events", "orders", "users", "scores", "features", "segments"):
        name = getattr(analysis.inputs, key)
        if name not in tables:
            yield ("analysis", "inputs", key), f"undefined table {name!r}", f"one of {known}"
    lookback = analysis.lookback_days * 86_400
    for name, funnel in analysis.funnels.funnels.items():
        if funnel.window_seconds > lookback:
            yield (
                ("analysis", "funnels", "funnels", name, "window"),
                f"{funnel.window} {funnel.window_unit}",
                f"at most analysis.lookback_days ({analysis.lookback_days} days): events before it are not read",
            )
    yield from funnels_reference_errors(analysis.funnels, analysis.inputs, tables, families)
    yield from paths_reference_errors(analysis.paths, tables)
    yield from funnel_errors(analysis.paths, tuple(analysis.funnels.funnels))
    yield from consumption_reference_errors(analysis.profile, analysis.consumption, analysis.inputs, tables)
    yield from interests_reference_errors(analysis.interests, analysis.inputs, tables)
