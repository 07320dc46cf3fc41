"""The alert scheduler: evaluates every rule each interval, off the request path, into the state store.

Each evaluation steps each rule only through the buckets that are new since the last one (plus the
ones still open: the current, partial bucket, and those whose data may still arrive, `Metric.settle`),
from the carries the store kept, so a restart goes on where it stopped. The first evaluation of a
rule, or of an edited one, goes back DASHAPP_ALERT_HISTORY_DAYS. One evaluator works at a time (the
store's lock) and an interval is evaluated once: the store records the last interval evaluated, so a
second scheduler, a duplicate Celery task or a redelivered one finds the work done.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from ..db import Database
from ..errors import DashappError
from ..timerange import BUCKETS, align_down, align_up
from .evaluate import RuleRun, bucket_range, labels_key, run_rule
from .metrics import METRICS, Span, metric_frame
from .rules import Rule
from .states import Carry
from .store import FileStore, RedisStore, Snapshot, carry_doc, period_doc, rule_hash

log = logging.getLogger(__name__)
METRIC_BUCKET = "1h"  # each named metric's newest value: its newest hourly (or daily) value, for /metrics
METRIC_LOOKBACK = timedelta(days=7)  # how far back a sparse metric (pipelines, drawdowns) has its newest value
RUNS_KEPT = 100  # the latest evaluations kept in the store, for operators and the tests


@dataclass(frozen=True)
class Outcome:
    """What one call of `evaluate_once` did: evaluated (and committed), or why not."""

    evaluated: bool
    reason: str
    snapshot: Snapshot
    seconds: float = 0.0
    problems: tuple[str, ...] = ()  # what went wrong on the way, e.g. a receiver that failed


def slot_of(moment: datetime, interval: int) -> int:
    """The interval a moment falls in: one evaluation per slot."""
    return int((moment - datetime(1970, 1, 1)).total_seconds() // interval)


def evaluate_once(
    db: Database, store: FileStore | RedisStore, rules: list[Rule], now: datetime, rebuild: bool = False
) -> Outcome:
    """Evaluate the rules as of `now` into the store, unless this interval has been evaluated already.

    The caller holds the store's lock. `rebuild` forgets the carries and history and evaluates the whole
    history again (after a data fix).
    """
    interval = db.config.alert_interval
    before = store.load()
    if not rebuild and before.slot is not None and slot_of(now, interval) <= before.slot:
        return Outcome(False, f"already evaluated as of {before.evaluated_at:%Y-%m-%d %H:%M:%S}", before)
    started = time.perf_counter()
    doc = next_document(db, before, rules, now, rebuild)
    seconds = time.perf_counter() - started
    run = {
        "slot": slot_of(now, interval),
        "evaluated_at": now.isoformat(),
        "duration_s": round(seconds, 4),
        "evaluator": f"{socket.gethostname()}:{os.getpid()}",
    }
    doc |= {
        "slot": run["slot"],
        "interval_s": interval,
        "finished": time.time(),
        "duration_s": run["duration_s"],
        "evaluations_total": before.evaluations + 1,
        "runs": [*before.runs, run][-RUNS_KEPT:],
        "warmed": before.doc.get("warmed"),
    }
    if not store.commit(doc, before.generation):
        return Outcome(False, "another evaluator committed first", store.load(), seconds)
    log.info("evaluated %d alert rules as of %s in %.2f s", len(rules), now, seconds)
    return Outcome(True, "evaluated", store.load(), seconds)


def next_document(db: Database, before: Snapshot, rules: list[Rule], now: datetime, rebuild: bool) -> dict:
    """The store's next document: every rule stepped from its carries through its new buckets, history pruned."""
    cutoff = now - timedelta(days=db.config.alert_history_days)
    doc = {
        "format": 1,
        "evaluated_at": now.isoformat(),
        "rules": {},
        "series": [],
        "periods": [],
        "transitions": [],
        "sent": before.doc.get("sent", {}),
    }
    for rule in rules:
        _evaluate_rule(db, before, rule, now, cutoff, rebuild, doc)
    doc["periods"] = [p for p in doc["periods"] if p["end"] is None or p["end"] >= cutoff.isoformat()]
    doc["transitions"] = [t for t in doc["transitions"] if t["bucket"] >= cutoff.isoformat()]
    doc["metrics"] = metric_values(db, now)
    return doc


def _evaluate_rule(
    db: Database, before: Snapshot, rule: Rule, now: datetime, cutoff: datetime, rebuild: bool, doc: dict
) -> None:
    """Step one rule and write its part of `doc`: its state, series, periods and state changes."""
    prior = None if rebuild else before.rule(rule.name)
    fresh = prior is None or prior["hash"] != rule_hash(rule)
    step = rule.bucket_seconds
    commit_before = align_down(now - METRICS[rule.metric].settle, step)
    first = align_down(cutoff, step) if fresh else datetime.fromisoformat(prior["next_bucket"])
    carries = {} if fresh else before.committed_carries(rule.name)
    outcome = run_rule(db, rule, bucket_range(rule, first, align_up(now, step)), now, carries, commit_before)
    if outcome.error:  # keep everything as it was and try these buckets again next time
        doc["rules"][rule.name] = {"hash": rule_hash(rule), "next_bucket": first.isoformat(), "error": outcome.error}
        if not fresh:
            doc["series"] += before.series(rule.name)
            for part in ("periods", "transitions"):
                doc[part] += _history(before, part, rule.name, settled_only=False)
        return
    doc["rules"][rule.name] = {"hash": rule_hash(rule), "next_bucket": max(first, commit_before).isoformat()}
    if not fresh:
        for part in ("periods", "transitions"):
            doc[part] += _history(before, part, rule.name, settled_only=True)
    _write_series(rule, outcome, carries, commit_before, cutoff, doc)


def _history(before: Snapshot, part: str, rule: str, settled_only: bool) -> list[dict]:
    """The rule's periods or state changes; settled: those of buckets that will not be evaluated again."""
    return [r for r in before.doc.get(part, []) if r["rule"] == rule and not (settled_only and r["provisional"])]


def _write_series(rule: Rule, outcome: RuleRun, carries: dict, commit_before: datetime, cutoff: datetime, doc: dict):
    kept_from = align_down(cutoff, rule.bucket_seconds)
    for run in outcome.series:
        committed, display = run.committed, run.display
        if run.labels == rule.labels:  # the rule's own row: without data as long as the history knows
            committed, display = _no_earlier(committed, kept_from), _no_earlier(display, kept_from)
        elif display.state == "nodata" and display.since is not None and display.since < kept_from:
            continue  # gone for longer than the history: forget the series (a retired model version)
        base = {"rule": rule.name, "labels": run.labels}
        doc["series"].append({**base, "committed": carry_doc(committed), "display": carry_doc(display)})
        for period, provisional in run.closed:
            doc["periods"].append({**base, **period_doc(period), "provisional": provisional})
        if display.period is not None:  # still firing: open, and looked at again next time
            doc["periods"].append({**base, **period_doc(display.period), "provisional": True})
        state = carries.get(labels_key(run.labels))
        previous = (state.state, state.severity) if state else (None, None)
        for step in run.steps:
            if (step.state, step.severity) != previous:
                doc["transitions"].append(
                    {
                        **base,
                        "bucket": step.bucket.isoformat(),
                        "state": step.state,
                        "severity": step.severity,
                        "value": step.value,
                        "provisional": step.bucket >= commit_before,
                    }
                )
            previous = (step.state, step.severity)


def _no_earlier(carry: Carry, start: datetime) -> Carry:
    """A state that began before the history's start began, as far as anyone can tell, at its start."""
    return replace(carry, since=start) if carry.since is not None and carry.since < start else carry


def metric_values(db: Database, now: datetime) -> list[dict]:
    """Each named metric's newest value per series (hourly where it can be, else daily), for /metrics."""
    values = []
    for metric in METRICS.values():
        bucket = BUCKETS[METRIC_BUCKET if METRIC_BUCKET in metric.buckets else metric.buckets[-1]]
        span = Span(align_down(now - METRIC_LOOKBACK, bucket), align_up(now, bucket), bucket, now)
        try:
            frame = metric_frame(db, metric.name, span)
        except DashappError as exc:  # a missing table or a refused query: the rules on it report it
            log.info("metric %s has no value now: %s", metric.name, exc.message)
            continue
        except Exception:  # a bug in one metric must not stop the others, nor the alerts
            log.exception("metric %s failed", metric.name)
            continue
        frame = frame.sort_values("bucket")
        newest = frame.groupby(list(metric.labels)).tail(1) if metric.labels else frame.tail(1)
        for row in newest.itertuples(index=False):
            values.append(
                {
                    "metric": metric.name,
                    "labels": {label: str(getattr(row, label)) for label in metric.labels},
                    "bucket": pd.Timestamp(row.bucket).isoformat(),
                    "value": float(row.value),
                }
            )
    return values
