"""The scheduler: incremental evaluations into the state store agree with evaluating from scratch, and a scheduler
stopped while alerts fire and pend resumes with their true "since" and their pending progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dashapp import demo
from dashapp.alerts import store
from dashapp.alerts.evaluate import evaluate
from dashapp.alerts.rules import load_rules
from dashapp.alerts.store import open_store
from dashapp.config import Config
from dashapp.runner import tick, worker_database
from tests.alerts.conftest import DAYS, END

TL = demo.timeline(END, DAYS)
ROOT = Path(__file__).resolve().parents[2]
LATENCY = ("latency_p95", ("sent-v1.4.2",))  # for = 2: pending for two 15-minute buckets, then firing
MEMORY = ("memory_high", ("model-server", "model-server-0"))  # firing through the spike, since hours before it


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One results cache for the module's schedulers, as the processes of one host share theirs."""
    return tmp_path_factory.mktemp("scheduler-cache")


def configured(alert_demo: Path, cache_dir: Path, state_dir: Path, **settings) -> Config:
    """The demo's settings; a history of 31 days holds all 30 of its days, and the first evaluation is short."""
    return Config(data_dir=alert_demo, cache_dir=cache_dir, state_dir=state_dir, alert_history_days=31, **settings)


def states(alerts) -> dict:
    return {
        (a.rule.name, tuple(a.labels.values())): (a.state, a.severity, a.since, [(p.start, p.end) for p in a.periods])
        for a in alerts
    }


def test_evaluating_interval_by_interval_with_restarts_equals_evaluating_from_scratch(alert_demo, cache_dir, tmp_path):
    config = configured(alert_demo, cache_dir, tmp_path / "state")
    rules = load_rules(config.alert_rules)
    server, db = worker_database(config)
    instants = [TL.spike_start + timedelta(minutes=m) for m in (-50, 5, 20, 29, 31, 44, 100, 170, 190, 230)]
    with server.app_context():
        for at in instants:
            store._STORES.clear()  # a new process: nothing in memory, all from the store
            assert tick(db, rules, at, warm=False).evaluated
        kept = open_store(config).load().alerts(rules)
        scratch = evaluate(db, rules, instants[-1] - timedelta(days=config.alert_history_days), instants[-1])
    assert states(kept) == states(scratch)
    (period,) = [p for p in states(kept)[LATENCY][3] if p[0] >= TL.spike_start]
    assert period[0] == TL.spike_start + timedelta(minutes=30)  # for = 2 counted across the evaluations


def scheduler_once(config: Config, at: datetime) -> dict:
    """Run `dashapp scheduler --once --at` as its own process, as a restarted scheduler would; the store after."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DASHAPP_")}
    environ |= {
        "DASHAPP_DATA_DIR": str(config.data_dir),
        "DASHAPP_CACHE_DIR": str(config.cache_dir),
        "DASHAPP_STATE_DIR": str(config.state_dir),
        "DASHAPP_ALERT_HISTORY_DAYS": str(config.alert_history_days),
    }
    command = [sys.executable, "-m", "dashapp.cli", "scheduler", "--once", "--at", at.isoformat()]
    done = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "evaluated;" in done.stdout, done.stdout + done.stderr
    doc = json.loads((config.state_dir / "alerts.json").read_text())
    return {(s["rule"], tuple(s["labels"].values())): s for s in doc["series"]}


def test_a_scheduler_stopped_while_alerts_fire_and_pend_resumes_with_their_since_and_progress(
    alert_demo, cache_dir, tmp_path
):
    config = configured(alert_demo, cache_dir, tmp_path / "state")
    first = scheduler_once(config, TL.spike_start + timedelta(minutes=20))
    pending, firing = first[LATENCY]["display"], first[MEMORY]["display"]
    assert pending["state"] == "pending" and pending["held"] == 2  # two slow buckets of the three it waits for
    assert firing["state"] == "firing" and firing["since"] < TL.spike_start.isoformat()
    again = scheduler_once(config, TL.spike_start + timedelta(minutes=29))  # stopped, started again
    assert again[LATENCY]["display"]["state"] == "pending" and again[LATENCY]["display"]["held"] == 2
    assert again[MEMORY]["display"]["since"] == firing["since"]
    later = scheduler_once(config, TL.spike_start + timedelta(minutes=31))
    assert later[LATENCY]["display"]["state"] == "firing"
    assert later[LATENCY]["display"]["since"] == (TL.spike_start + timedelta(minutes=30)).isoformat()
    assert later[MEMORY]["display"]["since"] == firing["since"]


@pytest.mark.parametrize("resolve_after", [0, 2])
def test_a_firing_series_that_disappears_resolves_after_its_buckets_without_data(
    alert_demo, cache_dir, tmp_path, resolve_after
):
    """The stable version's latency series stops when the log ends: its alert resolves, or with 0 fires on."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "slow"\nmetric = "ops.latency_p95_ms"\ncomparison = ">"\nwarning = 1\nbucket = "1h"\n'
        f'resolve_after_nodata = {resolve_after}\ndescription = "d"\nrecommendation = "r"\n'
    )
    config = configured(alert_demo, cache_dir, tmp_path / "state", alert_rules=rules)
    server, db = worker_database(config)
    with server.app_context():
        assert tick(db, load_rules(rules), END, warm=False).evaluated
        assert tick(db, load_rules(rules), END + timedelta(hours=5), warm=False).evaluated
    (alert,) = [
        a for a in open_store(config).load().alerts(load_rules(rules)) if a.labels["model_version"] == "sent-v1.4.2"
    ]
    last = alert.periods[-1]
    if resolve_after:
        assert alert.state == "nodata" and last.end == END.replace(minute=0) + timedelta(hours=1)  # where data stopped
    else:
        assert alert.state == "firing" and last.end is None
