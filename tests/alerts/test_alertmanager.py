"""Alerts to Prometheus Alertmanager: the payload, worked out by hand, and a real Alertmanager fed by the scheduler
on the demo's latency spike, through a failed POST and a restart."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashapp.alerts.alertmanager import RESERVED, deliveries, post
from dashapp.alerts.evaluate import Alert
from dashapp.alerts.metrics import METRICS
from dashapp.alerts.rules import Rule, load_rules
from dashapp.alerts.states import ACTIVE, Period, Thresholds
from dashapp.alerts.store import Snapshot, open_store
from dashapp.cli import main
from dashapp.config import Config
from tests.alerts.test_alert_demo import TL, Receiver
from tests.browser.server import free_port, wait_for

# -- the payload ----------------------------------------------------------------------------------------------

RULE = Rule(
    "latency_p95", "ops.latency_p95_ms", Thresholds(">", 200.0, 2000.0, 2, 1), "15m", "The p95.", "Check Operations."
)
AT = datetime(2024, 6, 18, 16, 0)  # the instant evaluated
NOW = datetime(2026, 12, 7, 11, 0)  # the wall clock when sending
PORTAL = "https://portal.example.com"
START = datetime(2024, 6, 18, 14, 30)
SERIES = {"model_version": "v1"}


def alert(state="firing", severity="critical", since=START, periods=None, value=2412.0, rule=RULE) -> Alert:
    periods = [Period(START, None, "critical", 2412.0)] if periods is None else periods
    return Alert(rule, dict(SERIES), state, severity if state in ACTIVE else None, value, since, periods)


def ok(periods) -> Alert:
    return alert("ok", value=150.0, since=periods[-1].end, periods=periods)


def send(alerts, told=None, now=NOW, interval=60, started=lambda alert: None):
    return deliveries(alerts, started, told or {}, AT, now, interval, PORTAL)


def test_a_firing_alert_goes_out_as_prometheus_sends_one():
    (sent,), _ = send([alert()])
    assert sent == {
        "labels": {"model_version": "v1", "alertname": "latency_p95", "severity": "critical", "source": "dashapp"},
        "annotations": {
            "summary": "latency_p95 critical: ops.latency_p95_ms{model_version=v1} = 2412 (value > 2000)",
            "description": "The p95.",
            "recommendation": "Check Operations.",
            "value": "2412",
            "threshold": "value > 2000",
        },
        "startsAt": "2024-06-18T14:30:00Z",
        "endsAt": "2026-12-07T11:04:00Z",  # now + 4 x max(interval, 1 min): two ticks may fail before it resolves
        # The page and filters that show the cause, from a day back (its start is later) to the instant evaluated.
        "generatorURL": f"{PORTAL}/operations?start=2024-06-17T16:00&end=2024-06-18T16:00&model_version=v1",
    }


@pytest.mark.parametrize(("interval", "valid"), [(15, timedelta(minutes=4)), (300, timedelta(minutes=20))])
def test_a_firing_alert_stays_valid_four_intervals_and_at_least_four_resend_delays(interval, valid):
    (sent,), _ = send([alert()], interval=interval)
    assert sent["endsAt"] == f"{NOW + valid:%Y-%m-%dT%H:%M:%SZ}"


def test_a_firing_alert_is_sent_at_every_tick_and_its_resolution_until_it_is_accepted():
    first, told = send([alert(state="firing")])
    again, told_again = send([alert(state="recovering")], told, now=NOW + timedelta(minutes=1))
    assert [a["labels"] for a in again] == [a["labels"] for a in first] and told_again == told
    assert again[0]["endsAt"] == "2026-12-07T11:05:00Z"
    end = datetime(2024, 6, 18, 17, 15)
    stopped = [Period(START, end, "critical", 2412.0)]
    resolved, told_after = send([ok(stopped)], told)
    assert resolved == [first[0] | {"endsAt": "2024-06-18T17:15:00Z"}] and told_after == {}
    assert send([ok(stopped)], told) == (resolved, {})  # not accepted: the store still says `told`, so again
    assert send([ok(stopped)], told_after) == ([], {})  # accepted: nothing more


def test_pending_ok_and_nodata_send_nothing():
    quiet = [alert("pending", periods=[]), ok([Period(START, AT, "critical", 1.0)]), alert("nodata", periods=[])]
    assert send(quiet) == ([], {})


def test_a_severity_change_resolves_the_old_alert_when_the_new_severity_began():
    _, told = send([alert(severity="warning")])
    critical_since = START + timedelta(minutes=45)
    body, told_now = send([alert(severity="critical")], told, started=lambda a: critical_since)
    old, new = body
    assert (old["labels"]["severity"], old["startsAt"], old["endsAt"]) == (
        "warning",
        "2024-06-18T14:30:00Z",
        "2024-06-18T15:15:00Z",
    )
    assert (new["labels"]["severity"], new["startsAt"]) == ("critical", "2024-06-18T15:15:00Z")
    assert [a["labels"]["severity"] for a in told_now.values()] == ["critical"]


def test_an_alert_that_resolved_and_fired_again_between_two_ticks_is_two_alerts():
    _, told = send([alert()])
    again = START + timedelta(hours=2)
    periods = [Period(START, START + timedelta(hours=1), "critical", 2412.0), Period(again, None, "critical", 2500.0)]
    old, new = send([alert(since=again, periods=periods)], told)[0]
    assert (old["startsAt"], old["endsAt"]) == ("2024-06-18T14:30:00Z", "2024-06-18T15:30:00Z")
    assert new["labels"] == old["labels"] and new["startsAt"] == "2024-06-18T16:30:00Z"


def test_a_rule_that_cannot_be_evaluated_neither_resends_nor_resolves_its_alerts():
    _, told = send([alert()])
    assert send([Alert(RULE, {}, "error", error="predictions unavailable")], told) == ([], told)


def test_an_alert_whose_rule_is_gone_resolves_when_that_is_seen():
    _, told = send([alert()])
    ((resolved,), told_now) = send([], told)
    assert resolved["endsAt"] == "2026-12-07T11:00:00Z" and told_now == {}


def test_an_alert_never_ends_before_it_starts_nor_after_now():
    _, told = send([alert()])
    future = [Period(START, NOW + timedelta(days=1), "critical", 1.0)]
    assert send([ok(future)], told)[0][0]["endsAt"] == "2026-12-07T11:00:00Z"
    earlier = START - timedelta(hours=1)  # late data moved its start back: the old one ends where it began
    old, new = send([alert(since=earlier, periods=[Period(earlier, None, "critical", 1.0)])], told)[0]
    assert old["endsAt"] == old["startsAt"] == "2024-06-18T14:30:00Z" and new["startsAt"] == "2024-06-18T13:30:00Z"


def test_a_rule_with_a_target_says_the_distance_is_compared():
    split = Rule("canary_traffic_split", "ab.canary_share", Thresholds(">", 0.05, None), "1h", "d", "r", target=0.1)
    (sent,), _ = send([Alert(split, {}, "firing", "warning", 0.1812, START, [Period(START, None, "warning", 1.0)])])
    assert sent["annotations"]["threshold"] == "|value - 0.1| > 0.05" and sent["annotations"]["value"] == "0.1812"


@pytest.mark.parametrize(
    ("changes", "since"),
    [
        (
            [
                ("ok", None),
                ("pending", "warning"),
                ("firing", "warning"),
                ("firing", "critical"),
                ("recovering", "critical"),
            ],
            3,
        ),
        ([("ok", None), ("firing", "critical"), ("firing", "warning"), ("firing", "critical")], 3),
        ([("ok", None), ("pending", "critical"), ("firing", "critical")], 2),
        ([("firing", "critical"), ("recovering", "critical")], None),  # began before the history kept
    ],
)
def test_a_series_fires_at_its_severity_since_its_last_change_to_it(changes, since):
    """The store's state changes say when a firing series became critical (it may have fired warning before)."""
    buckets = [START + i * timedelta(minutes=15) for i in range(len(changes))]
    rows = [
        {"rule": "latency_p95", "labels": SERIES, "bucket": b.isoformat(), "state": state, "severity": severity}
        for b, (state, severity) in zip(buckets, changes, strict=True)
    ]
    state, severity = changes[-1]
    found = Snapshot({"evaluated_at": AT.isoformat(), "transitions": rows}).severity_since(alert(state, severity))
    assert found == (None if since is None else buckets[since])


def test_no_series_label_takes_a_label_dashapp_sets():
    assert not {label for metric in METRICS.values() for label in metric.labels} & set(RESERVED)


# -- a real Alertmanager --------------------------------------------------------------------------------------

USER, PASSWORD = "ops", "s3cret"
# bcrypt of PASSWORD (Alertmanager's web config takes bcrypt hashes only), at the cheapest cost.
PASSWORD_HASH = "$2b$04$a3vXycarRMoQ88JNqztR8ujUU/uF52yomP9/6oIc4wgdisdlx8fRG"


class Alertmanager:
    """Debian's prometheus-alertmanager on a free loopback port, with basic auth and no cluster; it notifies a
    `Receiver` (webhook) of each alert as soon as it fires and resolves."""

    def __init__(self, folder: Path, hook: str):
        binary = shutil.which("prometheus-alertmanager")
        if binary is None:
            pytest.fail("prometheus-alertmanager is not installed: `make alertmanager` installs Debian's package")
        folder.mkdir(parents=True, exist_ok=True)
        route = {"receiver": "hook", "group_by": ["..."], "group_wait": "0s", "group_interval": "1s"}
        receivers = [{"name": "hook", "webhook_configs": [{"url": hook, "send_resolved": True}]}]
        config, web = folder / "alertmanager.yml", folder / "web.yml"
        config.write_text(json.dumps({"route": route | {"repeat_interval": "1h"}, "receivers": receivers}))
        web.write_text(json.dumps({"basic_auth_users": {USER: PASSWORD_HASH}}))  # JSON is YAML
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.url = f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}"  # as DASHAPP_ALERTMANAGER_URL
        self.log = folder / "alertmanager.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--web.config.file={web}",
                    f"--storage.path={folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no gossip: nothing leaves loopback
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._ready, "Alertmanager to be ready")
        except AssertionError:
            self.stop()
            raise AssertionError(f"Alertmanager did not start:\n{self.log.read_text()[-2000:]}") from None

    def _get(self, path: str):
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(self.address + path, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read()

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"Alertmanager exited:\n{self.log.read_text()[-2000:]}")
        try:
            self._get("/-/ready")
            return True
        except OSError:
            return False

    def alerts(self) -> dict[tuple, dict]:
        """The alerts Alertmanager holds as active (it lists no resolved one), by (alertname, series labels)."""
        return {key(a["labels"]): a for a in json.loads(self._get("/api/v2/alerts"))}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def key(labels: dict) -> tuple:
    return labels["alertname"], tuple(sorted((k, v) for k, v in labels.items() if k not in RESERVED))


def moment(stamp: str) -> datetime:
    """Alertmanager's RFC 3339 times (2024-06-18T14:30:00.000Z) as naive UTC."""
    return datetime.fromisoformat(stamp).astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def alertmanager(tmp_path, receiver):
    server = Alertmanager(tmp_path / "alertmanager", receiver.url)
    yield server
    server.stop()


LATENCY = ("latency_p95", (("model_version", "sent-v1.4.2"),))
DURING = TL.spike_start + timedelta(hours=1)
AFTER = TL.spike_end + timedelta(hours=2)
RULES = load_rules(Config().alert_rules)


@pytest.fixture
def evaluate(alert_demo, monkeypatch, capsys):
    """`dashapp alerts --evaluate --at` (the scheduler's tick) on the demo, sending to DASHAPP_ALERTMANAGER_URL;
    returns what it printed on stderr. The results cache is the module's: the tests share its queries."""
    monkeypatch.setenv("DASHAPP_CACHE_DIR", str(alert_demo.parent / "alertmanager-cache"))
    monkeypatch.setenv("DASHAPP_PUBLIC_URL", PORTAL + "/")
    monkeypatch.setenv("DASHAPP_ALERT_HISTORY_DAYS", "14")  # the spike's: the first evaluation goes back 14 days

    def run(at: datetime, url: str) -> str:
        monkeypatch.setenv("DASHAPP_ALERTMANAGER_URL", url)
        main(["alerts", "--data", str(alert_demo), "--evaluate", "--at", at.isoformat()])
        return capsys.readouterr().err

    return run


def firing_in_store() -> dict[tuple, Alert]:
    snapshot = open_store(Config.from_env()).load()
    return {(a.rule.name, tuple(sorted(a.labels.items()))): a for a in snapshot.alerts(RULES) if a.state in ACTIVE}


def test_alertmanager_holds_every_firing_alert_with_its_start_annotations_and_link(alertmanager, evaluate):
    evaluate(DURING, alertmanager.url)
    held, firing = alertmanager.alerts(), firing_in_store()
    assert LATENCY in firing and held.keys() == firing.keys()
    for name, alert in firing.items():
        assert held[name]["labels"]["severity"] == alert.severity and held[name]["labels"]["source"] == "dashapp"
    latency = held[LATENCY]
    assert latency["status"]["state"] == "active"
    assert latency["labels"] == {
        "alertname": "latency_p95",
        "severity": "critical",
        "model_version": "sent-v1.4.2",
        "source": "dashapp",
    }
    # Its true start: the third slow 15-minute bucket (for = 2), an hour before the instant evaluated.
    assert moment(latency["startsAt"]) == TL.spike_start + timedelta(minutes=30)
    (rule,) = [r for r in RULES if r.name == "latency_p95"]
    annotations = latency["annotations"]
    assert annotations["description"] == rule.description and annotations["recommendation"] == rule.recommendation
    assert float(annotations["value"]) > 2000 and annotations["threshold"] == "value > 2000"
    assert annotations["summary"].startswith("latency_p95 critical: ops.latency_p95_ms{model_version=sent-v1.4.2} = ")
    window = f"start={DURING - timedelta(days=1):%Y-%m-%dT%H:%M}&end={DURING:%Y-%m-%dT%H:%M}"
    assert latency["generatorURL"] == f"{PORTAL}/operations?{window}&model_version=sent-v1.4.2"
    # Valid for 4 x max(DASHAPP_ALERT_INTERVAL, 1 min) from when it was sent: then it resolves unless sent again.
    ends_in = moment(latency["endsAt"]) - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(minutes=3) < ends_in <= timedelta(minutes=4)


def test_a_restarted_alertmanager_learns_the_firing_alerts_at_the_next_tick(alertmanager, evaluate, receiver, tmp_path):
    evaluate(DURING, alertmanager.url)
    alertmanager.stop()
    restarted = Alertmanager(tmp_path / "restarted", receiver.url)  # alerts live in its memory: it holds none
    try:
        assert restarted.alerts() == {}
        assert "Alertmanager" not in evaluate(DURING, restarted.url)  # evaluated already: the tick only notifies
        assert restarted.alerts().keys() == firing_in_store().keys()
    finally:
        restarted.stop()


def test_the_spike_resolves_in_alertmanager_where_its_period_ended_through_a_failed_post(
    alertmanager, evaluate, receiver
):
    unreachable = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"  # nothing listens there
    problem = evaluate(DURING, unreachable)
    assert "Alertmanager at http://127.0.0.1:" in problem and "failed, will resend" in problem
    assert PASSWORD not in problem
    assert "Alertmanager" not in evaluate(DURING, alertmanager.url)  # the next tick delivers
    assert LATENCY in alertmanager.alerts()
    wait_for(lambda: notified(receiver, "firing"), "Alertmanager to notify the spike's alert")

    assert "failed, will resend" in evaluate(AFTER, unreachable)  # down when the spike ends
    assert LATENCY in alertmanager.alerts()  # so it was not told
    evaluate(AFTER, alertmanager.url)
    held = alertmanager.alerts()
    assert LATENCY not in held and held and held.keys() == firing_in_store().keys()  # resolved, others still fire
    wait_for(lambda: notified(receiver, "resolved"), "Alertmanager to notify the spike's resolution")
    (end,) = [p.end for p in latest(LATENCY).periods if p.start == TL.spike_start + timedelta(minutes=30)]
    assert TL.spike_end <= end <= TL.spike_end + timedelta(minutes=30)
    resolution = notified(receiver, "resolved")
    assert moment(resolution["endsAt"]) == end and moment(resolution["startsAt"]) == TL.spike_start + timedelta(
        minutes=30
    )
    assert resolution["annotations"]["recommendation"]  # what it was told when it fired, kept for the resolution


def test_a_refused_or_failed_post_raises_an_oserror_that_says_why(alertmanager, receiver):
    backwards = {"labels": {"alertname": "x"}, "startsAt": "2024-06-18T15:00:00Z", "endsAt": "2024-06-18T14:00:00Z"}
    with pytest.raises(OSError, match='HTTP 400: "start time must be before end time"'):
        post(alertmanager.url, [backwards], timeout=5)
    receiver.status = 503
    with pytest.raises(OSError, match="HTTP 503"):
        post(receiver.url, [backwards], timeout=5)


def latest(name: tuple) -> Alert:
    (alert,) = [
        a
        for a in open_store(Config.from_env()).load().alerts(RULES)
        if (a.rule.name, tuple(sorted(a.labels.items()))) == name
    ]
    return alert


def notified(receiver: Receiver, status: str) -> dict | None:
    """The spike's alert in the notifications Alertmanager sent the receiver with this status, if any."""
    for _, body in receiver.posts:
        for alert in body["alerts"]:
            if key(alert["labels"]) == LATENCY and alert["status"] == status:
                return alert
    return None
