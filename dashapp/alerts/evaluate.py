"""Evaluate alert rules over a time range: every series of each rule's metric, bucket by bucket."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pandas as pd

from ..contract import TABLES
from ..db import Database
from ..errors import DataUnavailable, QueryRefused
from ..timerange import align_up
from .metrics import METRICS, Span
from .rules import Rule
from .states import ACTIVE, Period, Step, periods, run

log = logging.getLogger(__name__)
SEVERITY_RANK = {None: 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Alert:
    """One rule on one series of its metric (one label set): its history and where it stands now."""

    rule: Rule
    labels: dict[str, str]
    steps: list[Step] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    error: str | None = None

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        return self.steps[-1].state if self.steps else "nodata"

    @property
    def severity(self) -> str | None:
        return self.steps[-1].severity if self.steps and self.state in ACTIVE else None

    @property
    def value(self) -> float | None:
        """The newest value (as the thresholds see it): a firing alert's last measured one through missing data."""
        if self.state not in ACTIVE:
            return self.steps[-1].value if self.steps else None
        return next((step.value for step in reversed(self.steps) if step.value is not None), None)

    @property
    def since(self) -> datetime | None:
        """When the current state began: a firing alert's period start, else the current run of its state."""
        if self.state in ACTIVE and self.periods:
            return self.periods[-1].start
        if not self.steps:
            return None
        since = self.steps[-1].bucket
        for step in reversed(self.steps):
            if step.state != self.state:
                break
            since = step.bucket
        return since


def evaluate(db: Database, rules: list[Rule], start: datetime, end: datetime) -> list[Alert]:
    """Every rule's alerts over [start, end); buckets align to the rule's bucket, the last one may be partial.

    Each rule's evaluation is cached per fingerprint of the tables its metric reads (and the rule itself).
    """
    alerts = []
    for rule in rules:
        key = {"rule": repr(rule), "start": start, "end": end}
        tables = METRICS[rule.metric].tables
        alerts += db.memoize(f"alert.{rule.name}", key, tables, lambda r=rule: _evaluate_rule(db, r, start, end))
    return alerts


def _evaluate_rule(db: Database, rule: Rule, start: datetime, end: datetime) -> list[Alert]:
    step = timedelta(seconds=rule.bucket_seconds)
    first = align_up(start, rule.bucket_seconds)
    first = first - step if first > start else first  # the bucket that holds `start`
    buckets = pd.date_range(first, end - timedelta(microseconds=1), freq=step)
    try:
        frame = METRICS[rule.metric].compute(db, Span(first, end, rule.bucket_seconds))
    except DataUnavailable as exc:
        if not _absent_by_design(db, exc.table):
            return [Alert(rule, dict(rule.labels), error=f"{exc.table} unavailable: {exc.reason}")]
        frame = pd.DataFrame(columns=["bucket", *METRICS[rule.metric].labels, "value"])
    except QueryRefused as exc:  # the request's deadline or memory: expected under load, no traceback
        log.warning("alert rule %s not evaluated: %s", rule.name, exc.message)
        return [Alert(rule, dict(rule.labels), error=exc.message)]
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("alert rule %s failed (error id %s)", rule.name, error_id)
        return [Alert(rule, dict(rule.labels), error=f"evaluation failed; logged with id {error_id}")]

    labels = list(METRICS[rule.metric].labels)
    for name, value in rule.labels.items():
        frame = frame[frame[name] == value]
    series = frame.groupby(labels, sort=True) if labels else [((), frame)]
    alerts = []
    for key, part in series:
        values = dict(zip(pd.to_datetime(part["bucket"]), part["value"], strict=True))
        steps = run(rule.thresholds, [(b.to_pydatetime(), rule.measure(values.get(b))) for b in buckets])
        names = dict(zip(labels, map(str, key if isinstance(key, tuple) else (key,)), strict=True))
        alerts.append(Alert(rule, names, steps, periods(rule.thresholds, steps)))
    if not alerts:  # no series at all in the range: the rule has no data
        steps = run(rule.thresholds, [(b.to_pydatetime(), None) for b in buckets])
        alerts.append(Alert(rule, dict(rule.labels), steps, []))
    return alerts


def _absent_by_design(db: Database, table: str) -> bool:
    """An optional table that is not there at all: its rules have no data, not an error (a broken one is)."""
    return TABLES[table].may_be_absent and db.scan([table])[table] is None


def worst(alerts: list[Alert]) -> str | None:
    """The worst severity firing among the alerts: None, warning or critical."""
    return max((a.severity for a in alerts), key=SEVERITY_RANK.__getitem__, default=None)


# Which page parameter shows a metric label's series (a pipeline has no page filter).
LABEL_PARAMS = {"model_version": "model_version", "feature": "feature", "run_id": "run"}


def as_json(alert: Alert, end: datetime) -> dict:
    """One alert as /api/alerts and `dashapp alerts --json` give it, with a link to the page that shows its cause."""
    rule, severity = alert.rule, alert.severity
    threshold = rule.thresholds.critical if severity == "critical" else rule.thresholds.warning
    since = alert.since
    link_start = min(since, end - timedelta(days=1)) if since else end - timedelta(days=7)
    query = {"start": f"{link_start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}"}
    query |= {LABEL_PARAMS[k]: v for k, v in alert.labels.items() if k in LABEL_PARAMS}
    return {
        "rule": rule.name,
        "metric": rule.metric,
        "labels": alert.labels,
        "state": alert.state,
        "severity": severity,
        "value": alert.value,
        "comparison": rule.thresholds.comparison,
        "threshold": threshold,
        "warning": rule.thresholds.warning,
        "critical": rule.thresholds.critical,
        "target": rule.target,
        "since": since.isoformat() if since else None,
        "error": alert.error,
        "description": rule.description,
        "recommendation": rule.recommendation,
        "link": METRICS[rule.metric].page + "?" + urlencode(query, safe=":"),
        "periods": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat() if p.end else None,
                "severity": p.severity,
                "peak": p.peak,
            }
            for p in alert.periods
        ],
    }


def exit_code(alerts: list[Alert]) -> int:
    """For cron and CI: 0 when nothing fires, 1 on a warning (or a rule that cannot be evaluated), 2 on a critical."""
    severity = worst(alerts)
    if severity == "critical":
        return 2
    return 1 if severity == "warning" or any(a.state == "error" for a in alerts) else 0
