"""The champion gate as a pure decision (its effect on the registry: test_lifecycle.py)."""

from __future__ import annotations

from userscore.config.models import PromotionConfig
from userscore.models.promotion import Decision, decide

POLICY = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.02, auc_tolerance=0.005)


def test_first_model_is_judged_on_the_absolute_limits_only():
    assert decide(0.70, 0.010, None, POLICY) == Decision(
        True, ("ECE 0.0100 <= limit 0.0200", "AUC 0.7000 >= minimum 0.6000", "no current champion")
    )
    assert decide(0.55, 0.010, None, POLICY) == Decision(
        False, ("ECE 0.0100 <= limit 0.0200", "AUC 0.5500 < minimum 0.6000", "no current champion")
    )
    assert decide(0.70, 0.030, None, POLICY).promote is False


def test_against_a_champion_within_tolerance_passes_and_worse_fails():
    better = decide(0.800, 0.010, 0.780, POLICY)
    assert better.promote and better.reasons[-1] == "AUC 0.8000 >= champion 0.7800 - tolerance 0.0050"
    assert decide(0.776, 0.010, 0.780, POLICY).promote is True  # 0.776 >= 0.780 - 0.005
    worse = decide(0.770, 0.010, 0.780, POLICY)
    assert not worse.promote and worse.reasons[-1] == "AUC 0.7700 < champion 0.7800 - tolerance 0.0050"


def test_better_auc_does_not_excuse_calibration_over_the_limit():
    decision = decide(0.900, 0.021, 0.780, POLICY)
    assert not decision.promote and decision.reasons[0] == "ECE 0.0210 > limit 0.0200"
