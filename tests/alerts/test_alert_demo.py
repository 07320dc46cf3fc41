"""The default rules on the demo: each incident fires where the demo put it; the CLI and /api/alerts agree."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from cachelib import SimpleCache

from dashapp import create_app, demo
from dashapp.alerts.evaluate import evaluate, exit_code
from dashapp.alerts.rules import load_rules
from dashapp.cli import main
from dashapp.config import Config
from dashapp.db import Database
from dashapp.runner import tick, worker_database
from tests.alerts.conftest import DAYS, END

TL = demo.timeline(END, DAYS)


@pytest.fixture(scope="module")
def config(alert_demo, tmp_path_factory) -> Config:
    out = tmp_path_factory.mktemp("alerts")
    return Config(data_dir=alert_demo, cache_dir=out / "cache", state_dir=out / "state")


@pytest.fixture(scope="module")
def db(config) -> Database:
    return Database(config, cache=SimpleCache())


@pytest.fixture(scope="module")
def alerts(db, config) -> dict:
    """Every default rule's alerts over the demo's 30 days, by (rule, the labels' values)."""
    found = evaluate(db, load_rules(config.alert_rules), END - timedelta(days=DAYS), END)
    return {(a.rule.name, *a.labels.values()): a for a in found}


@pytest.fixture(scope="module")
def evaluated(config) -> Config:
    """The scheduler's evaluation as of END in the module's state store, for the readers (API, /metrics)."""
    server, db = worker_database(config)
    with server.app_context():
        assert tick(db, load_rules(config.alert_rules), END, warm=False).evaluated
    return config


def firing(alerts, rule: str) -> set:
    return {key[1:] for key, alert in alerts.items() if key[0] == rule and alert.periods}


def test_the_drift_episode_fires_on_the_drifted_features_only(alerts):
    assert firing(alerts, "feature_drift") == {("headline_length",), ("news_category",), ("vix",)}
    for feature in ("headline_length", "news_category", "vix"):
        alert = alerts[("feature_drift", feature)]
        (period,) = alert.periods
        assert alert.state == "firing" and alert.severity == "critical" and period.end is None  # still going on
        assert TL.drift_start.date() <= period.start.date() <= TL.drift_start.date() + timedelta(days=1)
    assert alerts[("share_of_features_drifted",)].state == "firing"
    # New authors write during the episode: author_id's distinct values grow (its PSI is left out).
    assert firing(alerts, "cardinality_growth") == {("author_id",)}
    (period,) = alerts[("cardinality_growth", "author_id")].periods
    assert period.end is None and period.severity == "warning"
    assert TL.drift_start.date() <= period.start.date() <= TL.drift_start.date() + timedelta(days=1)


def test_the_weak_canary_fires_and_the_stable_version_does_not(alerts):
    canary = alerts[("low_accuracy", "sent-v1.5.0-rc1")]
    assert canary.state == "firing" and canary.severity == "warning"
    # Its first, partial day may hold too few outcomes to judge (MIN_OUTCOMES): then it fires the next.
    assert TL.canary_start.date() <= canary.periods[0].start.date() <= TL.canary_start.date() + timedelta(days=1)
    assert firing(alerts, "low_accuracy") == {("sent-v1.5.0-rc1",)}
    assert not alerts[("canary_traffic_split",)].periods  # its 10% split holds


def test_the_latency_spike_fires_latency_errors_and_cache_misses_inside_its_window(alerts):
    (latency,) = alerts[("latency_p95", "sent-v1.4.2")].periods
    assert latency.severity == "critical" and latency.peak > 2000
    # for = 2: the first two slow 15-minute buckets wait in pending.
    assert latency.start == TL.spike_start + timedelta(minutes=30)
    assert TL.spike_end <= latency.end <= TL.spike_end + timedelta(minutes=30)
    for rule in ("error_rate", "feature_cache_hit_rate"):
        periods = alerts[(rule,)].periods
        assert periods and all(TL.spike_start <= p.start < TL.spike_end for p in periods)
    assert alerts[("latency_p95", "sent-v1.4.2")].state == "ok"  # history, not now


def test_the_database_outage_fires_the_availability_burn_rate_rules_and_service_down(alerts):
    quarter = timedelta(minutes=15)  # the rules' bucket: the outage (03:10-03:35) fires in buckets 03:00 .. 03:30
    start, end = TL.outage_start - timedelta(minutes=10), TL.outage_end + timedelta(minutes=10)
    # 25 minutes down: at its last minute the last hour's burn rate is 25 / 60 / 0.001 = 417, far above 14.4.
    (fast,) = alerts[("slo_fast_burn", "availability", "database")].periods
    assert (fast.start, fast.end, fast.severity) == (start, end, "critical")
    assert fast.peak == pytest.approx(25 / 60 / 0.001)
    (medium,) = alerts[("slo_medium_burn", "availability", "database")].periods
    assert (medium.start, medium.end) == (start, end + quarter)  # its 30-minute window holds the outage longer
    (slow,) = alerts[("slo_slow_burn", "availability", "database")].periods
    assert slow.severity == "warning" and slow.peak == pytest.approx(25 / 4320 / 0.001)  # 3 days of minutes
    (down,) = alerts[("service_down", "database", "db-0")].periods
    assert (down.start, down.end, down.severity) == (start, end, "critical")
    # model-server-0's 3-minute restart is 3 of 120 instance-minutes in the hour: burn 25, a page too.
    assert firing(alerts, "slo_fast_burn") == {("availability", "database"), ("availability", "model-server")}
    assert firing(alerts, "slo_medium_burn") == firing(alerts, "slo_slow_burn") == {("availability", "database")}
    assert firing(alerts, "service_down") == {("database", "db-0"), ("model-server", "model-server-0")}


def test_the_memory_climb_fires_the_memory_rule_on_the_leaking_instance_only(alerts):
    assert firing(alerts, "memory_high") == {("model-server", "model-server-0")}
    (period,) = alerts[("memory_high", "model-server", "model-server-0")].periods
    assert period.severity == "warning" and 85 < period.peak < 95
    assert TL.memory_climb_start < period.start < TL.spike_end and period.end == TL.spike_end  # the restart
    # The spike's load runs both model servers hot, and nothing else.
    assert firing(alerts, "cpu_high") == {("model-server", "model-server-0"), ("model-server", "model-server-1")}
    for key in (("cpu_high", "model-server", "model-server-0"), ("cpu_high", "model-server", "model-server-1")):
        assert all(TL.spike_start <= p.start < TL.spike_end for p in alerts[key].periods)


def test_the_failed_pipelines_fire_critical_on_their_days(alerts):
    critical = [p for p in alerts[("pipeline_failing", "feature_build")].periods if p.severity == "critical"]
    assert [p.start.date() for p in critical] == [TL.pipeline_incident_start.date()]
    assert firing(alerts, "pipeline_failing") == {("feature_build",)}


def test_the_agent_drawdown_fires_when_it_began(db, config):
    rules = [r for r in load_rules(config.alert_rules) if r.name == "agent_drawdown"]
    found = evaluate(db, rules, END - timedelta(days=100), END)
    (alert,) = [a for a in found if a.labels["run_id"].startswith("paper-ppo-2.1")]
    first = alert.periods[0]
    assert TL.drawdown_start <= first.start.date() <= TL.drawdown_start + timedelta(days=20)
    assert first.severity == "critical" and first.peak < -0.2


@pytest.mark.parametrize("wait", [0, 1, 3])
def test_for_delays_firing_by_exactly_that_many_buckets_on_real_data(db, config, wait):
    (rule,) = [r for r in load_rules(config.alert_rules) if r.name == "latency_p95"]
    immediate = replace(rule, thresholds=replace(rule.thresholds, for_buckets=0))
    delayed = replace(rule, thresholds=replace(rule.thresholds, for_buckets=wait))
    start = TL.spike_start - timedelta(days=1)

    def spike_period(rule):
        (alert,) = [a for a in evaluate(db, [rule], start, END) if a.labels == {"model_version": "sent-v1.4.2"}]
        (period,) = [p for p in alert.periods if TL.spike_start <= p.start < TL.spike_end]
        return period

    assert spike_period(immediate).start == TL.spike_start
    assert spike_period(delayed).start == TL.spike_start + wait * timedelta(minutes=15)


def test_the_cli_exits_2_on_a_critical_and_prints_json(config, capsys, monkeypatch):
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(config.cache_dir))
    assert main(["alerts", "--data", str(config.data_dir), "--json"]) == 1  # nothing evaluated yet: says so
    assert "has not evaluated the rules" in capsys.readouterr().err
    code = main(["alerts", "--data", str(config.data_dir), "--at", END.isoformat(), "--json", "--evaluate"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 2
    drift = next(a for a in printed if a["rule"] == "feature_drift" and a["labels"] == {"feature": "vix"})
    assert drift["state"] == "firing" and drift["severity"] == "critical" and drift["threshold"] == 0.25
    assert drift["link"].startswith("/drift?") and "feature=vix" in drift["link"]
    assert drift["recommendation"] and drift["since"].startswith(str(TL.drift_start.date()))


def test_the_cli_exits_0_when_nothing_fires_and_2_on_a_bad_time(config, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(config.cache_dir))
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(
        '[[rule]]\nname = "never"\nmetric = "ops.error_rate"\ncomparison = ">"\nwarning = 0.99\nbucket = "1h"\n'
        'description = "d"\nrecommendation = "r"\n'
    )
    monkeypatch.setenv("DASHAPP_ALERT_RULES", str(quiet))
    assert main(["alerts", "--data", str(config.data_dir), "--at", END.isoformat(), "--evaluate"]) == 0
    assert "never" in capsys.readouterr().out
    assert main(["alerts", "--data", str(config.data_dir), "--at", "yesterday-ish"]) == 2
    assert "dashapp alerts:" in capsys.readouterr().err


def test_the_cli_keeps_its_results_in_the_portals_cache(config, capsys, monkeypatch, tmp_path):
    """A cron run fills the configured cache; another evaluation (or the portal) answers from it without querying."""
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DASHAPP_STATE_DIR", str(tmp_path / "state-1"))
    alerts = ["alerts", "--data", str(config.data_dir), "--at", END.isoformat(), "--json", "--evaluate"]
    assert main(alerts) == 2
    first = capsys.readouterr().out
    assert any((tmp_path / "cache" / "results").iterdir())

    def no_queries(*args, **kwargs):
        raise AssertionError("a query ran although its result was cached")

    monkeypatch.setattr(Database, "_execute", no_queries)
    monkeypatch.setenv("DASHAPP_STATE_DIR", str(tmp_path / "state-2"))  # a store that has evaluated nothing
    assert main(alerts) == 2
    assert capsys.readouterr().out == first


def test_api_alerts_answers_json_and_names_a_bad_parameter(evaluated):
    client = create_app(evaluated).server.test_client()
    body = client.get(f"/api/alerts?at={END.isoformat()}&days=30").get_json()
    assert body["ok"] and body["worst"] == "critical"
    states = {(a["rule"], tuple(a["labels"].values())): a["state"] for a in body["alerts"]}
    assert states[("low_accuracy", ("sent-v1.5.0-rc1",))] == "firing"
    assert states[("latency_p95", ("sent-v1.4.2",))] == "ok"
    for query, param in (("at=soon", "at"), ("days=0", "days"), ("days=abc", "days"), ("days=91", "days")):
        answer = client.get(f"/api/alerts?{query}")
        assert answer.status_code == 400 and answer.get_json()["param"] == param


def test_a_rule_whose_table_is_missing_is_in_error_and_the_others_still_evaluate(config, tmp_path):
    import shutil

    data = shutil.copytree(config.data_dir, tmp_path / "data")
    (data / "pipeline_runs.parquet").unlink()
    db = Database(replace(config, data_dir=data, cache_dir=tmp_path / "cache"), cache=SimpleCache())
    found = evaluate(db, load_rules(config.alert_rules), END - timedelta(days=7), END)
    (broken,) = [a for a in found if a.rule.name == "pipeline_failing"]
    assert broken.state == "error" and broken.error.startswith("pipeline_runs unavailable")
    assert any(a.state == "firing" for a in found)
    assert exit_code([broken]) == 1


def test_a_window_without_data_leaves_every_rule_without_data_not_in_error(db, config):
    before = END - timedelta(days=1200)  # before the market's three years (missing_values reads every table)
    found = evaluate(db, load_rules(config.alert_rules), before - timedelta(days=7), before)
    assert {a.state for a in found} == {"nodata"}
    assert exit_code(found) == 0


def test_metrics_exposes_the_named_metrics_and_the_alert_states_in_prometheus_text(evaluated):
    from prometheus_client.parser import text_string_to_metric_families

    answer = create_app(evaluated).server.test_client().get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    samples = {
        (f.name, tuple(sorted((k, v) for k, v in s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    firing = ("alertname", "low_accuracy"), ("alertstate", "firing"), ("model_version", "sent-v1.5.0-rc1")
    canary = [key for key in samples if key[0] == "dashapp_alert" and set(firing) <= set(key[1])]
    assert len(canary) == 1 and ("severity", "warning") in canary[0][1]
    assert samples[("dashapp_drift_psi", (("feature", "vix"),))] > 0.25
    assert samples[("dashapp_model_accuracy_ratio", (("model_version", "sent-v1.5.0-rc1"),))] < 0.75
    assert 0.05 < samples[("dashapp_ab_canary_traffic_ratio", ())] < 0.15
    assert families["dashapp_http_requests"].type == "counter"
    # Base units (a memory ratio, not percent; an alert's latency in seconds, not ms), `instance` as `service_instance`.
    memory = {
        dict(k[1])["service_instance"]: v for k, v in samples.items() if k[0] == "dashapp_service_memory_usage_ratio"
    }
    assert "model-server-0" in memory and all(0 < v < 1 for v in memory.values())
    latency = [v for k, v in samples.items() if k[0] == "dashapp_alert_value" and ("alertname", "latency_p95") in k[1]]
    assert latency and all(0 < v < 5 for v in latency)


class Receiver:
    """A real HTTP server on loopback that records the webhook's POSTs (and can fail on demand)."""

    def __init__(self):
        import http.server
        import threading

        self.posts, self.status = [], 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.status == 200:
                    receiver.posts.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/dashapp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_the_webhook_gets_each_state_change_once_and_a_failed_post_is_resent(
    config, receiver, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DASHAPP_ALERT_WEBHOOK", receiver.url)
    during_spike = (TL.spike_start + timedelta(hours=1)).isoformat()
    alerts = ["alerts", "--data", str(config.data_dir), "--days", "2", "--json", "--evaluate", "--at"]

    main([*alerts, during_spike])
    ((content_type, first),) = receiver.posts
    assert content_type == "application/json" and first["at"].startswith(during_spike[:16])
    sent = {(c["rule"], c["state"]) for c in first["changes"]}
    assert ("latency_p95", "firing") in sent and ("feature_cache_hit_rate", "firing") in sent
    assert all(c["previous"] == {"state": "ok", "severity": None} for c in first["changes"])
    assert not any(state == "ok" for _, state in sent)  # the first run reports what is wrong, not every rule

    main([*alerts, during_spike])
    assert len(receiver.posts) == 1  # nothing changed: nothing sent

    receiver.status = 503  # the receiver is down when the spike ends
    after_spike = (TL.spike_end + timedelta(hours=2)).isoformat()
    main([*alerts, after_spike])
    assert "failed, will resend: HTTP Error 503" in capsys.readouterr().err
    receiver.status = 200
    main([*alerts, after_spike])
    (_, recovered) = receiver.posts[1]
    latency = next(c for c in recovered["changes"] if c["rule"] == "latency_p95" and c["labels"])
    assert latency["state"] == "ok" and latency["previous"]["state"] == "firing"
    assert len(receiver.posts) == 2


def test_a_webhook_that_is_not_an_http_url_is_refused_at_start():
    from dashapp.errors import ConfigError

    with pytest.raises(ConfigError, match="DASHAPP_ALERT_WEBHOOK must be an http"):
        Config.from_env({"DASHAPP_ALERT_WEBHOOK": "file:///etc/passwd"})


def test_the_daily_label_kl_equals_scipys_entropy_of_the_label_shares(db, config):
    import numpy as np
    import pandas as pd
    from scipy.stats import entropy

    from dashapp.alerts.metrics import METRICS, Span

    day = (TL.drift_start + timedelta(days=1)).replace(hour=0, minute=0)
    frame = METRICS["prediction.label_kl"].compute(db, Span(day, day + timedelta(days=1), 86400))
    predictions = pd.read_parquet(config.data_dir / "predictions", columns=["ts", "label"])
    labels = predictions.loc[(predictions["ts"] >= day) & (predictions["ts"] < day + timedelta(days=1)), "label"]
    reference = pd.read_parquet(config.data_dir / "reference.parquet", columns=["label"])["label"]
    names = sorted(set(labels) | set(reference))
    current = labels.value_counts().reindex(names, fill_value=0).to_numpy(float)
    base = reference.value_counts().reindex(names, fill_value=0).to_numpy(float)
    clip = 1e-4  # the shares are clipped as PSI clips them (drift/stats.py)
    want = entropy(np.clip(current / current.sum(), clip, None), np.clip(base / base.sum(), clip, None))
    assert frame["value"].tolist() == pytest.approx([want], abs=1e-12)


def test_predictions_turn_stale_when_the_log_stops(db, config):
    rules = [r for r in load_rules(config.alert_rules) if r.name == "stale_predictions"]
    (fresh,) = evaluate(db, rules, END - timedelta(days=1), END)
    assert fresh.state == "ok" and fresh.value < 30
    later = END + timedelta(hours=3)  # the demo's log ends at END
    (stale,) = evaluate(db, rules, later - timedelta(days=1), later)
    assert stale.state == "firing" and stale.severity == "critical" and stale.value > 120
    (period,) = stale.periods
    # Warning once 30 minutes have passed at a bucket's end, firing from that bucket on.
    assert END <= period.start <= END + timedelta(minutes=45)
    (long_after,) = evaluate(db, rules, END + timedelta(days=10), END + timedelta(days=11))  # no row in the window
    assert long_after.state == "firing" and long_after.value > 10 * 24 * 60


def test_the_freshness_panel_calls_a_table_fresh_late_or_stale_against_its_cadence(db):
    from dashapp.charts.quality import freshness_data

    def statuses(end):
        return freshness_data(db, {"start": end - timedelta(days=7), "end": end}).set_index("table")["status"]

    assert statuses(END)["predictions"] == "fresh"
    assert statuses(END + timedelta(minutes=25))["predictions"] == "late"  # over its 15 minutes
    later = statuses(END + timedelta(hours=1))
    assert later["predictions"] == "stale" and later["outcomes"] in ("fresh", "late")  # outcomes: every 2 h
