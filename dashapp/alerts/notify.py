"""Tell receivers about alert state changes, from the scheduler after it committed an evaluation.

The generic webhook (DASHAPP_ALERT_WEBHOOK) gets a JSON POST with each series whose (state,
severity) changed since the last POST it accepted; Prometheus Alertmanager (DASHAPP_ALERTMANAGER_URL)
gets the firing alerts at every tick and each resolution until it accepted it (alertmanager.py).
What each receiver was last sent lives in the state store, written only after the receiver accepted
it: a receiver that was down gets the change on the next evaluation, and emptying the cache folder
resends nothing. A series never sent before counts as ok, so the first evaluation reports what is
wrong, not every rule. A crash between the POST and the store's write sends that change once more:
each change carries an `id` for the receiver to drop a repeat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.request
from datetime import datetime

from ..config import Config, redacted_url
from . import alertmanager
from .evaluate import Alert, as_json
from .rules import Rule
from .store import FileStore, RedisStore, Snapshot

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
NEVER_SENT = {"state": "ok", "severity": None}


def series_key(alert: Alert) -> str:
    return json.dumps([alert.rule.name, alert.labels], sort_keys=True)


def changes(alerts: list[Alert], sent: dict) -> list[tuple[Alert, dict]]:
    """The alerts whose (state, severity) differ from what was last sent, with what was sent."""
    out = []
    for alert in alerts:
        before = sent.get(series_key(alert), NEVER_SENT)
        if {"state": alert.state, "severity": alert.severity} != before:
            out.append((alert, before))
    return out


def change_id(alert: Alert) -> str:
    """The same change gets the same id, however often it is sent."""
    payload = json.dumps([alert.rule.name, alert.labels, alert.state, alert.severity, str(alert.since)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def post_webhook(url: str, alerts: list[Alert], sent: dict, at: datetime, prefix: str) -> dict:
    """POST the changes since `sent`, their links under the URL prefix; return what is sent now (unchanged when nothing
    changed).

    Raises OSError (urllib's errors are OSErrors) when the receiver cannot be reached or answers with
    an error; then nothing counts as sent.
    """
    changed = changes(alerts, sent)
    if not changed:
        return sent
    body = {
        "at": at.isoformat(),
        "changes": [as_json(a, at, prefix) | {"previous": before, "id": change_id(a)} for a, before in changed],
    }
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
        pass  # urlopen raises on a 4xx or 5xx answer
    log.info("sent %d alert state change(s) to the webhook at %s", len(changed), redacted_url(url))
    return sent | {series_key(a): {"state": a.state, "severity": a.severity} for a, _ in changed}


def notify(store: FileStore | RedisStore, snapshot: Snapshot, rules: list[Rule], config: Config) -> list[str]:
    """Send what the snapshot's states call for to each configured receiver and record it; the problems met."""
    problems: list[str] = []
    if not (config.alert_webhook or config.alertmanager_url) or not snapshot.evaluated:
        return problems
    at = snapshot.evaluated_at
    alerts = snapshot.alerts(rules)
    sent = dict(snapshot.doc.get("sent", {}))
    if config.alert_webhook:
        try:
            sent["webhook"] = post_webhook(
                config.alert_webhook, alerts, snapshot.sent("webhook"), at, config.url_prefix
            )
        except OSError as exc:  # tick() logs the problems
            problems.append(f"webhook at {redacted_url(config.alert_webhook)} failed, will resend: {exc}")
    if config.alertmanager_url:
        try:
            sent[alertmanager.CHANNEL] = alertmanager.send(config, snapshot, alerts, TIMEOUT_SECONDS)
        except OSError as exc:
            problems.append(f"Alertmanager at {redacted_url(config.alertmanager_url)} failed, will resend: {exc}")
    if sent != snapshot.doc.get("sent", {}) and not store.commit({**snapshot.doc, "sent": sent}, snapshot.generation):
        problems.append("the store changed while notifying; the changes will be sent again")
    return problems
