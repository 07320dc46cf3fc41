"""Send the alerts to Prometheus Alertmanager (API v2) as Prometheus' rule manager does.

Every firing alert (firing or recovering) is POSTed to DASHAPP_ALERTMANAGER_URL/api/v2/alerts at every
tick, with endsAt a few intervals ahead (Prometheus' ValidUntil): Alertmanager drops the repeats, one that
restarted learns what fires at the next tick, and if the scheduler dies the alerts resolve by themselves.
An alert that stopped firing is POSTed with endsAt = when it resolved, until Alertmanager accepts it: the
store keeps what Alertmanager was last told fires (sent["alertmanager"]), written after it accepted.

Labels identify an alert in Alertmanager, severity among them: a series going from warning to critical is
the warning alert resolved and a critical one firing. So is a series that resolved and fired again between
two ticks: a firing alert is known by its labels and its start. A rule that cannot be evaluated sends nothing
for its series, as Prometheus sends nothing for a rule that fails: they resolve when their endsAt passes,
unless the rule is back before.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from ..config import Config, redacted_url
from .evaluate import Alert, as_json
from .states import ACTIVE
from .store import Snapshot

log = logging.getLogger(__name__)
CHANNEL = "alertmanager"  # what was sent, in the store's "sent"
API_PATH = "/api/v2/alerts"
RESEND_DELAY = timedelta(minutes=1)  # Prometheus' --rules.alert.resend-delay
# A firing alert stays valid this many intervals, as in Prometheus: room for two failed evaluations or sends.
VALID_FOR = 4
SOURCE = "dashapp"  # the `source` label: routes tell dashapp's alerts from Prometheus' own
RESERVED = ("alertname", "severity", "source")  # labels no series label may take
STAMP = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in UTC, as Alertmanager reads it


def labels(alert: Alert) -> dict[str, str]:
    """The alert's labels in Alertmanager, which identify it there."""
    return {**alert.labels, "alertname": alert.rule.name, "severity": alert.severity or "", "source": SOURCE}


def firing(alert: Alert, starts_at: datetime, at: datetime, portal: str) -> dict:
    """A firing alert as Alertmanager takes it, without endsAt (that is set each time it is sent)."""
    described = as_json(alert, at)
    return {
        "labels": labels(alert),
        "annotations": {
            "summary": _summary(alert, described),
            "description": alert.rule.description,
            "recommendation": alert.rule.recommendation,
            "value": _number(alert.value),
            "threshold": _threshold(described),
        },
        "startsAt": starts_at.strftime(STAMP),
        "generatorURL": portal + described["link"],
    }


def _summary(alert: Alert, described: dict) -> str:
    series = ",".join(f"{k}={v}" for k, v in alert.labels.items())
    metric = f"{alert.rule.metric}{{{series}}}" if series else alert.rule.metric
    return f"{alert.rule.name} {alert.severity}: {metric} = {_number(alert.value)} ({_threshold(described)})"


def _threshold(described: dict) -> str:
    """The condition the alert's severity crossed; a rule with a target compares the distance from it."""
    measured = "value" if described["target"] is None else f"|value - {described['target']:g}|"
    return f"{measured} {described['comparison']} {described['threshold']:g}"


def _number(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def identity(alert: dict) -> str:
    """A firing alert as the store keeps it: its labels and when it began."""
    return json.dumps([alert["labels"], alert["startsAt"]], sort_keys=True)


def _series(alert_labels: dict) -> tuple:
    """The series an alert is about, whatever its severity."""
    return tuple(sorted((k, v) for k, v in alert_labels.items() if k != "severity"))


def deliveries(
    alerts: list[Alert],
    started: Callable[[Alert], datetime | None],
    told: dict[str, dict],
    at: datetime,
    now: datetime,
    interval: int,
    portal: str,
) -> tuple[list[dict], dict[str, dict]]:
    """What to POST now, and what Alertmanager has been told fires once it accepted that.

    `alerts`: every series' current alert; `started(alert)`: when a firing one began at its severity (None:
    its period's start); `told`: what Alertmanager was last told fires; `at`: the instant evaluated (the
    links end there); `now`: the wall clock, which Alertmanager compares endsAt with.
    """
    firing_now = {}
    for alert in alerts:
        if alert.state in ACTIVE:
            entry = firing(alert, started(alert) or alert.since, at, portal)
            firing_now[identity(entry)] = entry
    failing = {alert.rule.name for alert in alerts if alert.state == "error"}
    kept = {k: e for k, e in told.items() if k not in firing_now and e["labels"]["alertname"] in failing}
    by_series = {_series(labels(a)): a for a in alerts}
    replacing = {_series(e["labels"]): e for e in firing_now.values()}
    resolved = [
        entry | {"endsAt": _resolved_at(entry, by_series, replacing, now).strftime(STAMP)}
        for key, entry in told.items()
        if key not in firing_now and key not in kept
    ]
    valid_until = (now + VALID_FOR * max(timedelta(seconds=interval), RESEND_DELAY)).strftime(STAMP)
    # Resolutions first: an alert that fired again with the same labels must arrive after its old self ended.
    return resolved + [entry | {"endsAt": valid_until} for entry in firing_now.values()], firing_now | kept


def _resolved_at(entry: dict, by_series: dict, replacing: dict, now: datetime) -> datetime:
    """When a told alert stopped firing: its period's end, else when its series began to fire otherwise (another
    severity), else now (a rule removed, a series forgotten); never after now, which would keep it firing."""
    start = datetime.strptime(entry["startsAt"], STAMP)
    series = _series(entry["labels"])
    current, replacement = by_series.get(series), replacing.get(series)
    ends = [p.end for p in current.periods if p.end is not None and p.start <= start < p.end] if current else []
    if ends:
        end = ends[0]
    elif replacement is not None:
        end = datetime.strptime(replacement["startsAt"], STAMP)
    else:
        end = now
    return max(start, min(end, now))  # Alertmanager refuses an alert that ends before it starts


def send(config: Config, snapshot: Snapshot, alerts: list[Alert], timeout: float) -> dict[str, dict]:
    """POST what the snapshot calls for to Alertmanager; return what it has then been told fires.

    Raises OSError when Alertmanager cannot be reached or refuses the alerts: then nothing counts as told.
    """
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    told = snapshot.sent(CHANNEL)
    body, told_now = deliveries(
        alerts, snapshot.severity_since, told, snapshot.evaluated_at, now, config.alert_interval, config.portal_url
    )
    if body:
        post(config.alertmanager_url, body, timeout)
        resolved = sum(identity(alert) not in told_now for alert in body)
        where = redacted_url(config.alertmanager_url)
        log.info("sent %d alert(s) to Alertmanager at %s, %d of them resolved", len(body), where, resolved)
    return told_now


def post(base_url: str, alerts: list[dict], timeout: float) -> None:
    """POST the alerts to Alertmanager's API; raises OSError if it cannot be reached or answers with an error."""
    headers = {"Content-Type": "application/json", "User-Agent": "dashapp"}
    parts = urlsplit(base_url)
    if parts.username is not None:  # urllib sends no credentials written in the URL
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    url = redacted_url(base_url).rstrip("/") + API_PATH
    request = urllib.request.Request(url, data=json.dumps(alerts).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:  # Alertmanager says what it refused (a label, a time) in the body
        raise OSError(f"HTTP {exc.code}: {exc.read(300).decode(errors='replace').strip()}") from exc
    except http.client.HTTPException as exc:  # a garbled answer (a proxy's): no OSError, but a failure all the same
        raise OSError(f"bad answer: {exc!r}") from exc
