"""The uplift champion gate, hand-worked cases."""

from __future__ import annotations

from userscore.config.campaigns import UpliftGate
from userscore.uplift.gate import decide_uplift

GATE = UpliftGate(min_qini_gain=0.02)


def test_a_model_that_beats_random_by_the_gain_without_a_champion_passes():
    decision = decide_uplift(0.10, 0.05, None, GATE, 0.005)
    assert decision.promote
    assert decision.reasons == ("Qini 0.1000 > 0", "Qini 0.1000 > random 0.0500 + gain 0.0200", "no current champion")


def test_beating_random_by_less_than_the_gain_fails():
    decision = decide_uplift(0.06, 0.05, None, GATE, 0.005)
    assert not decision.promote and "Qini 0.0600 <= random 0.0500 + gain 0.0200" in decision.reasons


def test_a_negative_qini_fails_even_when_random_is_worse():
    decision = decide_uplift(-0.01, -0.08, None, GATE, 0.005)
    assert not decision.promote and decision.reasons[0] == "Qini -0.0100 <= 0"


def test_the_champion_on_the_same_users_bounds_the_candidate_within_the_tolerance():
    assert decide_uplift(0.096, 0.0, 0.10, GATE, 0.005).promote  # 0.096 >= 0.10 - 0.005
    trailing = decide_uplift(0.094, 0.0, 0.10, GATE, 0.005)
    assert not trailing.promote and trailing.reasons[-1] == "Qini 0.0940 < champion 0.1000 - tolerance 0.0050"


def test_without_a_qini_or_a_random_ranking_nothing_passes():
    assert not decide_uplift(None, 0.0, None, GATE, 0.005).promote
    assert not decide_uplift(0.2, None, None, GATE, 0.005).promote
    unscored = decide_uplift(0.2, 0.0, None, GATE, 0.005, "champion v3 not compared (see notes)")
    assert unscored.promote and unscored.reasons[-1] == "champion v3 not compared (see notes)"
