"""Bad values of number settings and over-deep rules fail at load, naming file, key and what was expected.

Every case writes an overlay into a private copy of conf/ (conf/local/<file>.yaml) and checks the whole
error; no Spark is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO

from userscore.cli import main
from userscore.config import load_config
from userscore.config.rules import MAX_RULE_DEPTH, MAX_RULE_LENGTH, RuleError, validate_rule
from userscore.config.typed import Origins, parse
from userscore.errors import ConfigError

FINITE = "a finite number (not .nan or .inf)"
DAYS = "an integer in [1, 36525]"
RULE_HELP = "a rule over feature and score columns using literals, operators and whitelisted functions"
DEPTH = "nested more than 32 levels deep (parentheses, NOT, signs, CASE, function calls)"


def _error(conf: Path, name: str, text: str) -> tuple[ConfigError, Path]:
    path = conf / "local" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    return caught.value, path


def _orders_range(rule: str) -> str:
    return f"ingest:\n  sources:\n    orders:\n      ranges:\n        amount: {rule}\n"


# (overlay file, YAML, key path, found, expected)
BAD_VALUES = {
    # Ingest ranges: finite bounds, min <= max, at least one bound.
    "range min above max": (
        "ingest",
        _orders_range("{min: 100, max: 5}"),
        "ingest.sources.orders.ranges.amount.max",
        "5.0 (float)",
        "a number >= min (100)",
    ),
    "range max nan": (
        "ingest",
        _orders_range("{min: 0, max: .nan}"),
        "ingest.sources.orders.ranges.amount.max",
        "nan (float)",
        f"{FINITE} (or null)",
    ),
    "range min -inf": (
        "ingest",
        _orders_range("{min: -.inf}"),
        "ingest.sources.orders.ranges.amount.min",
        "-inf (float)",
        f"{FINITE} (or null)",
    ),
    # Shares and probabilities.
    "share nan": (
        "generate",
        "generate:\n  bad_record_share: .nan\n",
        "generate.bad_record_share",
        "nan (float)",
        FINITE,
    ),
    "control share": (
        "segments",
        "segments:\n  families:\n    retention:\n      control_share: 0.7\n",
        "segments.families.retention.control_share",
        "0.7 (float)",
        "a number in [0, 0.5]",
    ),
    "rule weight": (
        "scoring",
        "scoring:\n  value_score:\n    rule_weight: 1.5\n",
        "scoring.value_score.rule_weight",
        "1.5 (float)",
        "a number in [0, 1]",
    ),
    "min auc": (
        "models",
        "models:\n  promotion:\n    min_auc: 1.2\n",
        "models.promotion.min_auc",
        "1.2 (float)",
        "a number in [0, 1]",
    ),
    "subsampling rate": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      gbt: {subsampling_rate: 0}\n",
        "models.targets.churn_60d.gbt.subsampling_rate",
        "0 (int)",
        "a number in (0, 1]",
    ),
    "elastic net": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      lr: {elastic_net_param: 2}\n",
        "models.targets.churn_60d.lr.elastic_net_param",
        "2 (int)",
        "a number in [0, 1]",
    ),
    "majority ratio": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      sample: {max_majority_ratio: 0.5}\n",
        "models.targets.churn_60d.sample.max_majority_ratio",
        "0.5 (float)",
        "a number >= 1 (or null)",
    ),
    "gate error share": (
        "btyd",
        "btyd:\n  gate:\n    max_repeat_error: 0\n",
        "btyd.gate.max_repeat_error",
        "0 (int)",
        "a number in (0, 1]",
    ),
    "discount rate": (
        "btyd",
        "btyd:\n  scoring:\n    annual_discount_rate: -1\n",
        "btyd.scoring.annual_discount_rate",
        "-1 (int)",
        "a number in (-1, 10)",
    ),
    # Thresholds and cuts: ordered and within the scale of what they cut.
    "tier above 1": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      tiers: [{name: high, above: 1.5}, {name: mid, min: 0.3}, {name: low}]\n",
        "models.targets.churn_60d.tiers",
        None,
        "bounds within [0, 1], got [1.5, 0.3]",
    ),
    "grade above 100": (
        "scoring",
        "scoring:\n  grades: [{name: A, min: 120}, {name: B, min: 60}, {name: D}]\n",
        "scoring.grades",
        None,
        "bounds within [0, 100], got [120.0, 60.0]",
    ),
    "tag edge nan": (
        "tags",
        "tags:\n  dictionary:\n    spend_band:\n      definition:\n        column: monetary_365d\n"
        "        bins: {edges: [0.01, .nan], labels: [none, low, high]}\n",
        "tags.dictionary.spend_band.definition.bins.edges.1",
        "nan (float)",
        FINITE,
    ),
    "alert share threshold": (
        "monitoring",
        "monitor:\n  alerts:\n    tier_share_shift: {above: 1.5}\n",
        "monitor.alerts.tier_share_shift.above",
        "1.5 (float)",
        "a number in [0, 1] for metric 'band_share_change'",
    ),
    "alert threshold inf": (
        "monitoring",
        "monitor:\n  alerts:\n    score_drift: {above: .inf}\n",
        "monitor.alerts.score_drift.above",
        "inf (float)",
        FINITE,
    ),
    "value component max inf": (
        "scoring",
        "scoring:\n  value_score:\n    rule:\n      rfm_score: {max: .inf}\n",
        "scoring.value_score.rule.rfm_score.max",
        "inf (float)",
        FINITE,
    ),
    # Weights: non-negative, with a positive sum.
    "negative rfm weight": (
        "features",
        "features:\n  rfm:\n    weights: {r: -1}\n",
        "features.rfm.weights.r",
        "-1 (int)",
        "a number >= 0",
    ),
    "zero affinity weights": (
        "features",
        "features:\n  preference:\n    affinity_weights: {spend: 0, visits: 0}\n",
        "features.preference.affinity_weights",
        "an invalid combination",
        "spend and visits weights with a positive sum, got 0.0 and 0.0",
    ),
    "negative price factor": (
        "generate",
        "generate:\n  category_price_factors: {books: 0}\n",
        "generate.category_price_factors.books",
        "0 (int)",
        "a number > 0",
    ),
    # Windows, horizons and days: positive integers, at most 100 years.
    "zero window": ("features", "features:\n  windows: [30, 0]\n", "features.windows.1", "0 (int)", DAYS),
    "huge horizon": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      horizon_days: 100000\n",
        "models.targets.churn_60d.horizon_days",
        "100000 (int)",
        DAYS,
    ),
    "negative btyd horizon": (
        "btyd",
        "btyd:\n  scoring:\n    horizons_days: [30, -5]\n",
        "btyd.scoring.horizons_days.1",
        "-5 (int)",
        DAYS,
    ),
    "short history": (
        "generate",
        "generate:\n  history_days: 30\n",
        "generate.history_days",
        "30 (int)",
        "an integer in [60, 36525]",
    ),
    # Counts.
    "zero top features": (
        "monitoring",
        "monitor:\n  psi:\n    top_features: 0\n",
        "monitor.psi.top_features",
        "0 (int)",
        "an integer >= 1",
    ),
    "zero partitions": (
        "models",
        "models:\n  training_partitions: 0\n",
        "models.training_partitions",
        "0 (int)",
        "an integer >= 1 (or null)",
    ),
    "zero priority": (
        "segments",
        "segments:\n  families:\n    retention:\n      segments:\n        low_risk: {priority: 0}\n",
        "segments.families.retention.segments.low_risk.priority",
        "0 (int)",
        "an integer >= 1",
    ),
    "checkpoint interval": (
        "models",
        "models:\n  targets:\n    churn_60d:\n      gbt: {checkpoint_interval: 0}\n",
        "models.targets.churn_60d.gbt.checkpoint_interval",
        "0 (int)",
        "1 or more, or -1 (no checkpoints)",
    ),
    "seed beyond 64 bits": (
        "generate",
        "generate:\n  seed: 1180591620717411303424\n",
        "generate.seed",
        "1180591620717411303424 (int)",
        "an integer that fits in 64 bits",
    ),
    # Half-lives and positive amounts.
    "zero half-life": (
        "features",
        "features:\n  half_life_days: 0\n",
        "features.half_life_days",
        "0 (int)",
        "a number > 0",
    ),
    "infinite half-life": (
        "features",
        "features:\n  half_life_days: .inf\n",
        "features.half_life_days",
        "inf (float)",
        FINITE,
    ),
    "negative order value": (
        "generate",
        "generate:\n  mean_order_value: -5\n",
        "generate.mean_order_value",
        "-5 (int)",
        "a number > 0",
    ),
    # Digits, bins, quantile errors and percentiles.
    "significant digits": (
        "btyd",
        "btyd:\n  m_x_significant_digits: 16\n",
        "btyd.m_x_significant_digits",
        "16 (int)",
        "an integer in [1, 15]",
    ),
    "decimals": (
        "scoring",
        "scoring:\n  reasons:\n    decimals: 7\n",
        "scoring.reasons.decimals",
        "7 (int)",
        "an integer in [0, 6]",
    ),
    "quantile error": (
        "models",
        "models:\n  evaluation:\n    quantile_relative_error: 0.5\n",
        "models.evaluation.quantile_relative_error",
        "0.5 (float)",
        "a number in [0, 0.1)",
    ),
    "epsilon nan": (
        "monitoring",
        "monitor:\n  psi:\n    epsilon: .nan\n",
        "monitor.psi.epsilon",
        "nan (float)",
        FINITE,
    ),
    "percentile 1": (
        "monitoring",
        "monitor:\n  quantiles: [0.5, 1.0]\n",
        "monitor.quantiles.1",
        "1.0 (float)",
        "a number in (0, 1)",
    ),
}


@pytest.mark.parametrize(("name", "text", "key", "found", "expected"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_number_setting_fails_load_naming_file_key_and_bound(conf, name, text, key, found, expected):
    err, path = _error(conf, name, text)
    assert (err.file, err.key_path, err.expected) == (str(path), key, expected)
    if found is not None:
        assert err.found == found
    else:  # a whole list of bands: its repr
        assert err.found.startswith("(Band(name=")
    assert str(err) == f"config error in {path} at {key}: found {err.found}; expected {expected}"


def test_a_range_without_bounds_fails(conf):
    # Overlays merge into the base range, so the empty range is written where the column's range is declared.
    base = conf / "base" / "ingest.yaml"
    base.write_text(base.read_text().replace("amount: {min: 0, max: 100000}", "amount: {}"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(env="local", conf_dir=conf)
    err = caught.value
    assert (err.file, err.key_path) == (str(base), "ingest.sources.orders.ranges.amount")
    assert (err.found, err.expected) == ("an invalid combination", "at least one of min and max")


def test_every_environment_loads_with_its_overlay_applied():
    envs = sorted(p.name for p in (REPO / "conf").iterdir() if p.is_dir() and p.name != "base")
    assert "local" in envs
    for env in envs:
        overlay = yaml.safe_load((REPO / "conf" / env / "spark.yaml").read_text(encoding="utf-8"))
        config = load_config(env=env, conf_dir=REPO / "conf")
        assert (config.env, config.spark.mode) == (env, overlay["spark"]["mode"])


def test_integers_beyond_the_float_range_are_not_finite_numbers():
    with pytest.raises(ConfigError) as caught:
        parse(float, 10**400, ("x",), Origins())
    assert (caught.value.key_path, caught.value.expected) == ("x", FINITE)


def _tag(rule: str) -> str:
    return (
        "tags:\n  dictionary:\n    deep_tag:\n      name: Deep\n      category: value\n"
        f'      definition: {{rule: "{rule}"}}\n      owner: crm-analytics\n      refresh: daily\n'
        "      sensitivity: internal\n      description: A rule nested too deeply.\n"
    )


def _segment(rule: str) -> str:
    return (
        "segments:\n  families:\n    retention:\n      segments:\n        deep:\n          priority: 9\n"
        f'          rule: "{rule}"\n          strategy: none\n          channel: none\n'
    )


def test_deeply_nested_tag_rule_fails_naming_the_tag_and_the_limit(conf):
    rule = "(" * 124 + "value_score > 80" + ")" * 124  # 264 characters
    err, path = _error(conf, "tags", _tag(rule))
    assert (err.file, err.key_path, err.expected) == (str(path), "tags.dictionary.deep_tag.definition.rule", RULE_HELP)
    assert err.found == f"invalid rule for tag 'deep_tag': {DEPTH}"


def test_deeply_negated_segment_rule_fails_naming_the_segment_and_the_limit(conf):
    err, path = _error(conf, "segments", _segment("NOT " * 900 + "churn_tier = 'high'"))
    assert (err.file, err.key_path) == (str(path), "segments.families.retention.segments.deep.rule")
    assert err.found == f"invalid rule for segment retention.deep: {DEPTH}"


def test_overlong_segment_rule_fails_naming_the_length_limit(conf):
    rule = "NOT " * 1000 + "churn_tier = 'high'"  # 4,019 characters
    err, _ = _error(conf, "segments", _segment(rule))
    assert err.key_path == "segments.families.retention.segments.deep.rule"
    assert err.found == "invalid rule for segment retention.deep: 4019 characters, longer than the limit of 4000"


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("(", ")"), ("NOT ", ""), ("- ", ""), ("abs(", ")"), ("CASE WHEN TRUE THEN ", " END")],
    ids=["parentheses", "not", "signs", "calls", "case"],
)
def test_rule_depth_limit_is_exactly_max_rule_depth(opening, closing):
    inner = "a > 1" if opening == "NOT " else "a"
    at_limit = opening * MAX_RULE_DEPTH + inner + closing * MAX_RULE_DEPTH
    assert validate_rule(at_limit, ["a"]) == frozenset({"a"})
    with pytest.raises(RuleError) as caught:
        validate_rule(opening + at_limit + closing, ["a"])
    assert str(caught.value) == DEPTH
    assert (MAX_RULE_DEPTH, MAX_RULE_LENGTH) == (32, 4000)


def test_ingest_job_exits_2_before_writing_anything(conf, tmp_path, capsys):
    (conf / "local" / "ingest.yaml").write_text(_orders_range("{min: 100, max: 5}"), encoding="utf-8")
    code = main(["ingest", "--conf-dir", str(conf)])
    out = capsys.readouterr().out
    assert code == 2
    assert out == (
        f"userscore ingest: error: config error in {conf / 'local' / 'ingest.yaml'} at "
        "ingest.sources.orders.ranges.amount.max: found 5.0 (float); expected a number >= min (100)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]  # no warehouse, no raw, no mlflow store


def test_score_job_with_a_deep_rule_exits_2_not_with_a_recursion_traceback(conf, tmp_path, capsys):
    (conf / "local" / "tags.yaml").write_text(_tag("NOT " * 900 + "value_score > 80"), encoding="utf-8")
    code = main(["score", "--conf-dir", str(conf), "--as-of", "2026-10-01"])
    out = capsys.readouterr().out
    assert code == 2
    assert out == (
        f"userscore score: error: config error in {conf / 'local' / 'tags.yaml'} at "
        f"tags.dictionary.deep_tag.definition.rule: found invalid rule for tag 'deep_tag': {DEPTH}; "
        f"expected {RULE_HELP}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]


def test_invalid_yaml_in_a_set_override_exits_2(tmp_path, capsys):
    raw = tmp_path / "raw"
    assert main(["generate", "--set", "generate.users=[", "--set", f"generate.raw_dir={raw}"]) == 2
    assert capsys.readouterr().out == "userscore generate: error: --set generate.users: a YAML value, got '['\n"
    assert not raw.exists()


@pytest.mark.parametrize(
    ("levels", "key", "found"),
    [(70, "generate.users.0...", "nesting deeper than 64 levels"), (3000, "<file>", "YAML nested too deeply to read")],
)
def test_deeply_nested_yaml_fails_instead_of_exhausting_recursion(conf, levels, key, found):
    err, path = _error(conf, "generate", "generate:\n  users: " + "[" * levels + "]" * levels + "\n")
    assert (err.file, err.key_path, err.found, err.expected) == (str(path), key, found, "at most 64 levels of nesting")
