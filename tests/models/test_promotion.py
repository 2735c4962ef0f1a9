"""The champion gate as a pure decision, and what it does to the registry."""

from __future__ import annotations

from userscore.config.models import PromotionConfig
from userscore.models.promotion import Decision, apply, decide

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


class _Client:
    def __init__(self):
        self.calls = []

    def set_model_version_tag(self, name, version, key, value):
        self.calls.append(("tag", name, version, key, value))

    def set_registered_model_alias(self, name, alias, version):
        self.calls.append(("alias", name, alias, version))


def test_apply_moves_the_alias_only_when_promoted():
    client = _Client()
    apply(client, "userscore-x", "3", Decision(False, ("a", "b")), "champion")
    assert client.calls == [
        ("tag", "userscore-x", "3", "promotion_decision", "kept"),
        ("tag", "userscore-x", "3", "promotion_reasons", "a; b"),
    ]
    client = _Client()
    apply(client, "userscore-x", "4", Decision(True, ("ok",)), "champion")
    assert client.calls[-1] == ("alias", "userscore-x", "champion", "4")
