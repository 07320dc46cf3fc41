"""Alert rules from TOML: the shipped defaults load; a malformed file names the rule and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashapp import create_app
from dashapp.alerts.metrics import METRICS
from dashapp.alerts.rules import RulesError, load_rules
from dashapp.config import Config

GOOD = """
[[rule]]
name = "latency"
metric = "ops.latency_p95_ms"
comparison = ">"
warning = 200
bucket = "15m"
description = "slow"
recommendation = "look"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_the_shipped_rules_load_and_cover_the_issue_defaults():
    rules = {rule.name: rule for rule in load_rules(Config().alert_rules)}
    assert {rule.metric for rule in rules.values()} >= {
        "drift.psi",
        "prediction.label_kl",
        "model.accuracy",
        "ops.latency_p95_ms",
        "ops.error_rate",
        "ops.cache_hit_rate",
        "ab.canary_share",
        "pipeline.failure_rate",
        "agent.drawdown",
    }
    psi = rules["feature_drift"].thresholds
    assert (psi.comparison, psi.warning, psi.critical) == (">=", 0.1, 0.25)
    latency = rules["latency_p95"].thresholds
    assert (latency.warning, latency.critical) == (200, 2000)
    assert rules["low_accuracy"].thresholds.critical == 0.55
    assert rules["canary_traffic_split"].target == 0.10
    assert all(rule.bucket in METRICS[rule.metric].buckets for rule in rules.values())


def test_a_rule_with_target_compares_the_distance_from_it(tmp_path):
    (rule,) = load_rules(write(tmp_path, GOOD.replace("warning = 200", "target = 0.1\nwarning = 0.05")))
    assert rule.measure(0.02) == pytest.approx(0.08) and rule.measure(None) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('comparison = ">"', 'comparison = "=>"'), "rule 'latency': comparison: must be one of > >= < <="),
        (("warning = 200", 'warning = "200"'), "rule 'latency': warning: must be a number, got '200'"),
        (("warning = 200", "warning = true"), "rule 'latency': warning: must be a number, got True"),
        (("warning = 200", ""), "rule 'latency': warning: a rule needs a warning or a critical threshold"),
        (("ops.latency_p95_ms", "ops.nope"), "rule 'latency': metric: unknown 'ops.nope'"),
        (('bucket = "15m"', 'bucket = "7d"'), "rule 'latency': bucket: ops.latency_p95_ms is evaluated per 5m"),
        (('recommendation = "look"', ""), "rule 'latency': recommendation: missing"),
        (("warning = 200", "warning = 200\nfor = -1"), "rule 'latency': for: must be 0 or more buckets"),
        (("warning = 200", "warning = 200\nfor = 1.5"), "rule 'latency': for: must be a whole number, got 1.5"),
        (("warning = 200", "warning = 200\nthreshold = 3"), "rule 'latency': threshold: unknown field"),
        (("warning = 200", 'warning = 200\nlabels = {symbol = "AAPL"}'), "rule 'latency': labels: 'symbol' must be"),
        (('name = "latency"', 'name = "Latency!"'), "rule 'Latency!': name: lower-case letters"),
        (('name = "latency"\n', ""), "rule '#1': name: missing"),
        (("[[rule]]", "[[rules]]"), "unknown top-level key 'rules'"),
        (('comparison = ">"', "comparison = >"), "not valid TOML"),
    ],
)
def test_a_malformed_rule_is_refused_naming_the_rule_and_the_field(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RulesError) as error:
        load_rules(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_a_name_used_twice_and_an_empty_file_are_refused(tmp_path):
    with pytest.raises(RulesError, match="rule 'latency': name: used twice"):
        load_rules(write(tmp_path, GOOD + GOOD))
    with pytest.raises(RulesError, match="no \\[\\[rule\\]\\] tables"):
        load_rules(write(tmp_path, "# nothing\n"))
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.toml")


def test_the_app_does_not_start_with_a_malformed_rules_file(tmp_path):
    rules = write(tmp_path, GOOD.replace("15m", "1w"))
    config = Config(data_dir=tmp_path, cache_dir=tmp_path / "cache", alert_rules=rules)
    with pytest.raises(RulesError, match="rule 'latency': bucket"):
        create_app(config)
