"""Each target's training settings are its own keys merged over ``models.defaults`` (key by key)."""

from __future__ import annotations

import dataclasses

from userscore.config import load_config


def _write(conf, text: str) -> None:
    (conf / "local" / "zz_test.yaml").write_text(text, encoding="utf-8")


def test_a_target_key_overrides_only_itself(conf):
    _write(
        conf,
        "models:\n  defaults:\n    gbt: {max_iter: 7}\n"
        "  targets:\n    churn_60d:\n      gbt: {max_depth: 3}\n      split: {seed: 99}\n",
    )
    models = load_config(env="local", conf_dir=conf).models
    churn, repurchase = models.targets["churn_60d"], models.targets["repurchase_30d"]
    assert churn.gbt == dataclasses.replace(models.defaults.gbt, max_depth=3)
    assert (churn.gbt.max_iter, repurchase.gbt.max_iter, repurchase.gbt.max_depth) == (
        7,
        7,
        models.defaults.gbt.max_depth,
    )
    assert churn.split == dataclasses.replace(models.defaults.split, seed=99)
    assert (repurchase.lr, repurchase.calibration) == (models.defaults.lr, models.defaults.calibration)


def test_a_new_target_takes_every_default(conf):
    _write(
        conf,
        "models:\n  targets:\n    buys_again_7d:\n      horizon_days: 7\n"
        "      population: {kind: all}\n      label: {kind: any_order_within, include_refunded: false}\n"
        "      tiers: [{name: high, min: 0.5}, {name: low}]\n",
    )
    models = load_config(env="local", conf_dir=conf).models
    target = models.targets["buys_again_7d"]
    assert (target.features, target.sample, target.split) == (
        models.defaults.features,
        models.defaults.sample,
        models.defaults.split,
    )
    assert (target.gbt, target.lr, target.calibration) == (
        models.defaults.gbt,
        models.defaults.lr,
        models.defaults.calibration,
    )
    assert [(b.name, b.min, b.above) for b in target.tiers] == [("high", 0.5, None), ("low", None, None)]
