"""Evaluate alert rules: every series of each rule's metric, bucket by bucket, from where its state left off.

`run_rule` is the one evaluation: the scheduler calls it with the carries it kept in the state store
and only the buckets that are new (scheduler.py); `evaluate` calls it from scratch over a window, for
`dashapp alerts --evaluate`'s first run, the tests and the benchmarks.
"""

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
from ..subpath import ROOT, url
from ..timerange import align_down
from .metrics import METRICS, Span, metric_frame
from .rules import Rule
from .states import ACTIVE, SEVERITY_RANK, Carry, Period, Step, advance

log = logging.getLogger(__name__)
Labels = tuple[tuple[str, str], ...]  # a series' labels, sorted: hashable, and one key for every reader


@dataclass(frozen=True)
class Alert:
    """One rule on one series of its metric (one label set): where it stands and when it fired."""

    rule: Rule
    labels: dict[str, str]
    state: str  # ok, pending, firing, recovering, nodata, error
    severity: str | None = None
    value: float | None = None  # the newest value (as the thresholds see it); a firing alert's last through gaps
    since: datetime | None = None  # when the state began: a firing alert's true start, however long ago
    periods: list[Period] = field(default_factory=list)
    error: str | None = None
    steps: list[Step] = field(default_factory=list)  # each bucket, when evaluated from scratch (evaluate())

    @classmethod
    def from_carry(cls, rule: Rule, labels: dict, carry: Carry, periods: list[Period], steps=()) -> Alert:
        severity = carry.severity if carry.state in ACTIVE else None
        return cls(rule, labels, carry.state, severity, carry.value, carry.since, periods, steps=list(steps))


@dataclass
class SeriesRun:
    """One series stepped through the buckets: the carry after the committed ones and after all of them."""

    labels: dict[str, str]
    committed: Carry
    display: Carry
    steps: list[Step]
    committed_steps: int  # steps[:committed_steps] are settled; the others are evaluated again next time
    closed: list[tuple[Period, bool]]  # the periods these steps closed, and whether provisionally


@dataclass
class RuleRun:
    series: list[SeriesRun]
    error: str | None = None


def labels_key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def bucket_range(rule: Rule, first: datetime, end: datetime) -> list[datetime]:
    """The rule's buckets from `first` (aligned down) up to the one holding the last moment before `end`."""
    step = timedelta(seconds=rule.bucket_seconds)
    first = align_down(first, rule.bucket_seconds)
    return [first + i * step for i in range(max(0, -(-(end - first) // step)))]


def run_rule(
    db: Database,
    rule: Rule,
    buckets: list[datetime],
    now: datetime,
    carries: dict[Labels, Carry],
    commit_before: datetime,
) -> RuleRun:
    """Step every series of the rule through `buckets`, each from its carry; buckets from `commit_before` on
    are provisional (partial, or their data may still arrive) and are evaluated again next time."""
    if not buckets:
        return RuleRun([])
    frame = _metric_frame(db, rule, buckets, now)
    if isinstance(frame, str):
        return RuleRun([], error=frame)
    metric = METRICS[rule.metric]
    for name, value in rule.labels.items():
        frame = frame[frame[name] == value]
    found: dict[Labels, dict[datetime, float]] = {}
    if metric.labels:
        for key, part in frame.groupby(list(metric.labels), sort=True):
            names = dict(zip(metric.labels, map(str, key if isinstance(key, tuple) else (key,)), strict=True))
            found[labels_key(names)] = _by_bucket(part)
    elif not frame.empty:
        found[()] = _by_bucket(frame)
    keys = set(found) | set(carries)
    placeholder = labels_key(rule.labels)  # the rule's own row while its metric has no series at all
    if len(rule.labels) < len(metric.labels):  # then no real series has the placeholder's labels
        keys.discard(placeholder)
    keys = keys or {placeholder}
    return RuleRun(
        [
            _step_series(
                rule,
                _ordered(key, metric.labels),
                buckets,
                found.get(key, {}),
                carries.get(key, Carry()),
                commit_before,
            )
            for key in sorted(keys)
        ]
    )


def _by_bucket(rows: pd.DataFrame) -> dict[datetime, float]:
    return dict(zip(pd.to_datetime(rows["bucket"]).dt.to_pydatetime(), rows["value"].tolist(), strict=True))


def _ordered(key: Labels, names: tuple[str, ...]) -> dict[str, str]:
    """A series' labels in its metric's order, as pages and the API show them."""
    labels = dict(key)
    return {name: labels[name] for name in names if name in labels}


def _step_series(
    rule: Rule, labels: dict, buckets: list[datetime], values: dict, carry: Carry, commit_before: datetime
) -> SeriesRun:
    steps, closed, committed, settled = [], [], carry, 0
    for bucket in buckets:
        value = values.get(bucket)
        if value is None and (bucket >= commit_before or (carry.state == "nodata" and carry.period is None)):
            # An open bucket without a value yet (a bucket's first minutes, a day whose returns are not logged) is
            # not known to lack data: the state stands. A gap in a series without data changes nothing either.
            step = Step(bucket, None, carry.state, carry.severity)
        else:
            step, carry, ended = advance(rule.thresholds, carry, bucket, rule.measure(value))
            if ended is not None:
                closed.append((ended, bucket >= commit_before))
        steps.append(step)
        if bucket < commit_before:
            committed, settled = carry, len(steps)
    return SeriesRun(labels, committed, carry, steps, settled, closed)


def _metric_frame(db: Database, rule: Rule, buckets: list[datetime], now: datetime) -> pd.DataFrame | str:
    """The rule's metric over the buckets, or why it could not be read (the rule is then in error)."""
    metric = METRICS[rule.metric]
    span = Span(buckets[0], buckets[-1] + timedelta(seconds=rule.bucket_seconds), rule.bucket_seconds, now)
    try:
        return metric_frame(db, metric.name, span)
    except DataUnavailable as exc:
        if not _absent_by_design(db, exc.table):
            return f"{exc.table} unavailable: {exc.reason}"
        return pd.DataFrame(columns=["bucket", *metric.labels, "value"])
    except QueryRefused as exc:  # a deadline or the memory limit: expected under load, no traceback
        log.warning("alert rule %s not evaluated: %s", rule.name, exc.message)
        return exc.message
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log.exception("alert rule %s failed (error id %s)", rule.name, error_id)
        return f"evaluation failed; logged with id {error_id}"


def _absent_by_design(db: Database, table: str) -> bool:
    """An optional table that is not there at all: its rules have no data, not an error (a broken one is)."""
    return TABLES[table].may_be_absent and db.scan([table])[table] is None


def evaluate(db: Database, rules: list[Rule], start: datetime, end: datetime) -> list[Alert]:
    """Every rule's alerts over [start, end) from scratch; the last bucket may be partial."""
    return [alert for rule in rules for alert in _evaluate_rule(db, rule, start, end)]


def _evaluate_rule(db: Database, rule: Rule, start: datetime, end: datetime) -> list[Alert]:
    open_from = align_down(end - METRICS[rule.metric].settle, rule.bucket_seconds)  # as the scheduler settles them
    outcome = run_rule(db, rule, bucket_range(rule, start, end), end, {}, commit_before=open_from)
    if outcome.error:
        return [Alert(rule, dict(rule.labels), "error", error=outcome.error)]
    return [
        Alert.from_carry(
            rule,
            run.labels,
            run.display,
            [period for period, _ in run.closed] + ([run.display.period] if run.display.period else []),
            run.steps,
        )
        for run in outcome.series
    ]


def worst(alerts: list[Alert]) -> str | None:
    """The worst severity firing among the alerts: None, warning or critical."""
    return max((a.severity for a in alerts), key=SEVERITY_RANK.__getitem__, default=None)


# Which page parameter shows a metric label's series (a pipeline has no page filter).
LABEL_PARAMS = {"model_version": "model_version", "feature": "feature", "run_id": "run"}


def page_link(alert: Alert, end: datetime) -> str:
    """The page and filters that show the alert's cause: from its start (at least a day back) to `end`."""
    since = alert.since
    link_start = min(since, end - timedelta(days=1)) if since else end - timedelta(days=7)
    query = {"start": f"{link_start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}"}
    query |= {LABEL_PARAMS[k]: v for k, v in alert.labels.items() if k in LABEL_PARAMS}
    return METRICS[alert.rule.metric].page + "?" + urlencode(query, safe=":")


def as_json(alert: Alert, end: datetime, prefix: str = ROOT) -> dict:
    """One alert as /api/alerts and `dashapp alerts --json` give it, with a link to the page that shows its cause
    under the URL prefix `prefix` (by default a portal path, as Alertmanager's link puts after the portal's address)."""
    rule, severity = alert.rule, alert.severity
    threshold = rule.thresholds.critical if severity == "critical" else rule.thresholds.warning
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
        "since": alert.since.isoformat() if alert.since else None,
        "error": alert.error,
        "description": rule.description,
        "recommendation": rule.recommendation,
        "link": url(prefix, page_link(alert, end)),
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
