"""The default rules on a clean demo (write_demo(incidents=False)): none fires or even pends, and each has data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cachelib import SimpleCache

from dashapp import demo
from dashapp.alerts.evaluate import evaluate
from dashapp.alerts.rules import load_rules
from dashapp.config import Config
from dashapp.db import Database

END = datetime(2024, 6, 28, 15, 30)
DAYS = 3
# Ten million rows a month, the benchmark's volume, so a bucket's p95 or rate sits near its true value.
# Much thinner buckets cross thresholds on noise alone: a p95 of 50 requests is the third-slowest of them,
# and at 600,000 rows over 5 days the 10% canary's night-time p95 pended once in 3 seeds of 11.
ROWS = 1_000_000


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Config:
    out = tmp_path_factory.mktemp("alerts-clean")
    demo.write_demo(out / "data", rows=ROWS, days=DAYS, seed=7, end=END, incidents=False)
    return Config(data_dir=out / "data", cache_dir=out / "cache")


@pytest.fixture(scope="module")
def db(config) -> Database:
    return Database(config, cache=SimpleCache())


@pytest.fixture(scope="module")
def alerts(db, config) -> list:
    return evaluate(db, load_rules(config.alert_rules), END - timedelta(days=DAYS), END)


def raised(alerts: list) -> list:
    """Every bucket in which an alert was pending, firing or recovering, and every alert in error."""
    return [
        (alert.rule.name, alert.labels, step.bucket, step.state, step.value)
        for alert in alerts
        for step in alert.steps
        if step.state not in ("ok", "nodata")
    ] + [(alert.rule.name, alert.labels, alert.error) for alert in alerts if alert.error]


def test_no_default_rule_fires_or_pends_in_any_bucket_of_a_clean_demo(alerts):
    assert raised(alerts) == []


def test_every_default_rule_has_data_on_a_clean_demo(alerts, config):
    """So that the test above is not passed by rules that saw nothing."""
    measured = {a.rule.name for a in alerts if any(step.state != "nodata" for step in a.steps)}
    assert measured == {rule.name for rule in load_rules(config.alert_rules)}


def test_no_paper_run_of_a_clean_demo_draws_down_past_the_limit(db, config):
    """Both paper runs over their whole life (the demo's ppo-sentiment 2.1 drawdown began 80 days before END)."""
    rules = [r for r in load_rules(config.alert_rules) if r.name == "agent_drawdown"]
    found = evaluate(db, rules, END - timedelta(days=200), END)
    assert {a.labels["run_id"].split("-2024")[0] for a in found} == {"paper-ppo-2.0", "paper-ppo-2.1"}
    assert raised(found) == []
