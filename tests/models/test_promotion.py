"""The champion gate as a pure decision (its effect on the registry: test_lifecycle.py)."""

from __future__ import annotations

from userscore.config.models import PromotionConfig
from userscore.models.promotion import Decision, decide

POLICY = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.02, auc_tolerance=0.005, baseline_margin=0.01)


def test_first_model_is_judged_on_the_absolute_limits_only():
    assert decide(0.70, 0.010, None, POLICY, baseline=None) == Decision(
        True,
        ("ECE 0.0100 <= limit 0.0200", "AUC 0.7000 >= minimum 0.6000", "no baseline evaluated", "no current champion"),
    )
    assert decide(0.55, 0.010, None, POLICY, baseline=None) == Decision(
        False,
        ("ECE 0.0100 <= limit 0.0200", "AUC 0.5500 < minimum 0.6000", "no baseline evaluated", "no current champion"),
    )
    assert decide(0.70, 0.030, None, POLICY, baseline=None).promote is False


def test_against_a_champion_within_tolerance_passes_and_worse_fails():
    better = decide(0.800, 0.010, 0.780, POLICY, baseline=None)
    assert better.promote and better.reasons[-1] == "AUC 0.8000 >= champion 0.7800 - tolerance 0.0050"
    assert decide(0.776, 0.010, 0.780, POLICY, baseline=None).promote is True  # 0.776 >= 0.780 - 0.005
    worse = decide(0.770, 0.010, 0.780, POLICY, baseline=None)
    assert not worse.promote and worse.reasons[-1] == "AUC 0.7700 < champion 0.7800 - tolerance 0.0050"


def test_better_auc_does_not_excuse_calibration_over_the_limit():
    decision = decide(0.900, 0.021, 0.780, POLICY, baseline=None)
    assert not decision.promote and decision.reasons[0] == "ECE 0.0210 > limit 0.0200"


def test_a_model_must_beat_the_best_baseline_by_the_margin():
    # Best baseline recency at 0.7700: the floor is 0.7700 + 0.0100 = 0.7800.
    passes = decide(0.7850, 0.010, None, POLICY, baseline=("recency", 0.7700))
    assert passes == Decision(
        True,
        (
            "ECE 0.0100 <= limit 0.0200",
            "AUC 0.7850 >= minimum 0.6000",
            "AUC 0.7850 >= best baseline recency 0.7700 + margin 0.0100",
            "no current champion",
        ),
    )
    # Above the baseline, but by less than the margin: kept out, although every other check passes.
    close = decide(0.7750, 0.010, 0.7600, POLICY, baseline=("recency", 0.7700))
    assert close == Decision(
        False,
        (
            "ECE 0.0100 <= limit 0.0200",
            "AUC 0.7750 >= minimum 0.6000",
            "AUC 0.7750 < best baseline recency 0.7700 + margin 0.0100",
            "AUC 0.7750 >= champion 0.7600 - tolerance 0.0050",
        ),
    )
    # Below the baseline: kept out.
    assert decide(0.7600, 0.010, None, POLICY, baseline=("bgnbd_p_alive", 0.7700)).promote is False


def test_the_margin_is_inclusive_and_taken_from_the_policy():
    # 0.75 + 0.0625 = 0.8125 exactly in binary floating point: the floor itself passes.
    exact = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.02, auc_tolerance=0.005, baseline_margin=0.0625)
    assert decide(0.8125, 0.010, None, exact, baseline=("rfm_score", 0.75)).reasons[2] == (
        "AUC 0.8125 >= best baseline rfm_score 0.7500 + margin 0.0625"
    )
    assert decide(0.8125, 0.010, None, exact, baseline=("rfm_score", 0.75)).promote is True
    assert decide(0.8124, 0.010, None, exact, baseline=("rfm_score", 0.75)).promote is False
    # Margin 0: tying the baseline is enough.
    tie = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.02, auc_tolerance=0.005, baseline_margin=0.0)
    assert decide(0.75, 0.010, None, tie, baseline=("rfm_score", 0.75)).promote is True
    # A negative margin lets the model trail the baseline by that much: 0.74 >= 0.75 - 0.02 = 0.73.
    trail = PromotionConfig(alias="champion", min_auc=0.6, max_ece=0.02, auc_tolerance=0.005, baseline_margin=-0.02)
    assert decide(0.74, 0.010, None, trail, baseline=("rfm_score", 0.75)).reasons[2] == (
        "AUC 0.7400 >= best baseline rfm_score 0.7500 + margin -0.0200"
    )
