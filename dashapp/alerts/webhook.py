"""Tell a webhook when alerts change state, and only then (DASHAPP_ALERT_WEBHOOK).

The states last sent are kept in a JSON file in the cache folder, written only after the POST
succeeded: a receiver that was down gets the change on the next run, and no change is sent twice.
A series never sent before counts as ok, so the first run reports what is wrong, not every rule.
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime
from pathlib import Path

from .evaluate import Alert, as_json

TIMEOUT_SECONDS = 10
NEVER_SENT = {"state": "ok", "severity": None}


def _key(alert: Alert) -> str:
    return json.dumps([alert.rule.name, alert.labels], sort_keys=True)


def changes(alerts: list[Alert], sent: dict) -> list[tuple[Alert, dict]]:
    """The alerts whose (state, severity) differ from what was last sent, with what was sent."""
    out = []
    for alert in alerts:
        before = sent.get(_key(alert), NEVER_SENT)
        if {"state": alert.state, "severity": alert.severity} != before:
            out.append((alert, before))
    return out


def notify(url: str, alerts: list[Alert], at: datetime, state_file: Path) -> int:
    """POST the state changes since the last successful POST; return how many were sent.

    Raises OSError (urllib's errors are OSErrors) when the receiver cannot be reached or answers
    with an error; the remembered states are then left as they were.
    """
    sent = json.loads(state_file.read_text()) if state_file.exists() else {}
    changed = changes(alerts, sent)
    if not changed:
        return 0
    body = {
        "at": at.isoformat(),
        "changes": [as_json(alert, at) | {"previous": before} for alert, before in changed],
    }
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
        pass  # urlopen raises on a 4xx or 5xx answer
    sent |= {_key(alert): {"state": alert.state, "severity": alert.severity} for alert, _ in changed}
    state_file.parent.mkdir(parents=True, exist_ok=True)
    partial = state_file.with_suffix(".tmp")
    partial.write_text(json.dumps(sent, indent=1, sort_keys=True))
    os.replace(partial, state_file)  # atomic: a crash never leaves half a file
    return len(changed)
