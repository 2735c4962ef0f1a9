"""The champion gate as a pure decision. The lifecycle steps that apply it to registered versions
(validate, promote, rollback) are in userscore.models.lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from userscore.config.models import PromotionConfig


@dataclass(frozen=True)
class Decision:
    """Whether the candidate becomes champion, and every reason, in the order checked."""

    promote: bool
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return ("PROMOTE: " if self.promote else "KEEP: ") + "; ".join(self.reasons)


def decide(
    candidate_auc: float,
    candidate_ece: float,
    champion_auc: float | None,
    policy: PromotionConfig,
    *,
    baseline: tuple[str, float] | None,
) -> Decision:
    """Apply the gate.

    Args:
        candidate_auc, candidate_ece: the new version's validation AUC and calibrated ECE.
        champion_auc: the current champion's AUC on the same validation rows, or None when there is
            no champion yet (then only the absolute limits and the baseline apply).
        baseline: (name, AUC) of the best naive baseline on the same validation rows, None when none was
            evaluated (none declared, or none of their columns in the snapshots).
    """
    reasons: list[str] = []
    ok = True
    if candidate_ece <= policy.max_ece:
        reasons.append(f"ECE {candidate_ece:.4f} <= limit {policy.max_ece:.4f}")
    else:
        ok = False
        reasons.append(f"ECE {candidate_ece:.4f} > limit {policy.max_ece:.4f}")
    if candidate_auc >= policy.min_auc:
        reasons.append(f"AUC {candidate_auc:.4f} >= minimum {policy.min_auc:.4f}")
    else:
        ok = False
        reasons.append(f"AUC {candidate_auc:.4f} < minimum {policy.min_auc:.4f}")
    if baseline is None:
        reasons.append("no baseline evaluated")
    else:
        name, baseline_auc = baseline
        beats = candidate_auc >= baseline_auc + policy.baseline_margin
        ok = ok and beats
        reasons.append(
            f"AUC {candidate_auc:.4f} {'>=' if beats else '<'} best baseline {name} {baseline_auc:.4f} "
            f"+ margin {policy.baseline_margin:.4f}"
        )
    if champion_auc is None:
        reasons.append("no current champion")
    else:
        floor = champion_auc - policy.auc_tolerance
        relation = ">=" if candidate_auc >= floor else "<"
        ok = ok and candidate_auc >= floor
        reasons.append(
            f"AUC {candidate_auc:.4f} {relation} champion {champion_auc:.4f} - tolerance {policy.auc_tolerance:.4f}"
        )
    return Decision(ok, tuple(reasons))
