"""The champion gate of an uplift model, as a pure decision over the held-out campaign's Qini coefficients."""

from __future__ import annotations

from userscore.config.campaigns import UpliftGate
from userscore.models.promotion import Decision


def decide_uplift(
    qini: float | None,
    random_qini: float | None,
    champion_qini: float | None,
    gate: UpliftGate,
    tolerance: float,
    champion_note: str = "",
) -> Decision:
    """Promote when the candidate's Qini coefficient is positive, above the random ranking's on the same
    users by ``gate.min_qini_gain``, and (with a champion re-scored on the same users) not below the
    champion's by more than ``tolerance``. A Qini that could not be computed (one arm empty) never passes.
    ``champion_note``: why a champion that exists was not compared (instead of "no current champion")."""
    if qini is None:
        return Decision(False, ("no Qini coefficient: the held-out campaign lacks an arm",))
    reasons, ok = [], True
    positive = qini > 0
    ok = ok and positive
    reasons.append(f"Qini {qini:.4f} {'>' if positive else '<='} 0")
    if random_qini is None:
        ok = False
        reasons.append("no random ranking to compare with")
    else:
        beats = qini > random_qini + gate.min_qini_gain
        ok = ok and beats
        reasons.append(
            f"Qini {qini:.4f} {'>' if beats else '<='} random {random_qini:.4f} + gain {gate.min_qini_gain:.4f}"
        )
    if champion_qini is None:
        reasons.append(champion_note or "no current champion")
    else:
        holds = qini >= champion_qini - tolerance
        ok = ok and holds
        reasons.append(
            f"Qini {qini:.4f} {'>=' if holds else '<'} champion {champion_qini:.4f} - tolerance {tolerance:.4f}"
        )
    return Decision(ok, tuple(reasons))
