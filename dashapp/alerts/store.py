"""The alert state store: what the scheduler evaluated, for every reader on every host.

One JSON document holds it all: each series' state and the carry a restart resumes from (pending
progress, "since"), the firing periods and state changes of the last DASHAPP_ALERT_HISTORY_DAYS,
each named metric's newest value, what each notifier last sent, and the last evaluation's time
and duration. Why one document:
- an evaluation commits all of it or nothing (a rename, or one Redis transaction), so an
  evaluator killed half-way writes nothing, and one run again writes nothing twice;
- it is small (tens to hundreds of kB: states, periods and changes, not per-bucket values), so a
  reader decodes it once per version and a band then costs a file stat or one Redis GET;
- the same bytes live in a file (one host) or in Redis (several hosts), and `jq` reads either.

`FileStore` keeps it in DASHAPP_STATE_DIR, written to a temporary name and renamed; a commit
checks the generation it read under an flock, so two writers cannot both commit over one
version. `RedisStore` (DASHAPP_STATE_REDIS_URL) keeps it under one key with a generation counter,
committed with WATCH/MULTI. Each also gives the lock that lets one evaluator work at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from functools import cached_property
from pathlib import Path

from ..config import Config, redacted_url
from ..singleflight import file_lock
from .evaluate import Alert, Labels, labels_key
from .rules import Rule
from .states import ACTIVE, Carry, Period

log = logging.getLogger(__name__)
FORMAT = 1
REDIS_KEY = "dashapp:alerts:state"


# -- the document's pieces -------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def period_doc(period: Period) -> dict:
    return {"start": _time(period.start), "end": _time(period.end), "severity": period.severity, "peak": period.peak}


def period_from(doc: dict | None) -> Period | None:
    if doc is None:
        return None
    return Period(_parse(doc["start"]), _parse(doc["end"]), doc["severity"], doc["peak"])


def carry_doc(carry: Carry) -> dict:
    doc = asdict(carry)
    doc |= {"since": _time(carry.since), "missing_since": _time(carry.missing_since)}
    doc["period"] = period_doc(carry.period) if carry.period else None
    return doc


def carry_from(doc: dict) -> Carry:
    return Carry(
        **{
            **doc,
            "since": _parse(doc["since"]),
            "missing_since": _parse(doc["missing_since"]),
            "period": period_from(doc["period"]),
        }
    )


def rule_hash(rule: Rule) -> str:
    """Identify a rule's definition: an edited rule starts over (its old states answered another question)."""
    return hashlib.sha256(repr(rule).encode()).hexdigest()[:16]


# -- what readers see ------------------------------------------------------------------------


class Snapshot:
    """One version of the store's document, with the views the pages, the API and /metrics read."""

    def __init__(self, doc: dict | None, generation: int = 0):
        self.doc = doc or {}
        self.generation = generation
        self._versions: dict[tuple[str, ...], str] = {}

    @property
    def evaluated(self) -> bool:
        return "evaluated_at" in self.doc

    @property
    def evaluated_at(self) -> datetime | None:
        """The instant the last evaluation looked at (its 'now')."""
        return _parse(self.doc.get("evaluated_at"))

    @property
    def finished(self) -> float | None:
        """When the last evaluation finished, as a Unix time (the wall clock, whatever it evaluated)."""
        return self.doc.get("finished")

    @property
    def duration(self) -> float | None:
        return self.doc.get("duration_s")

    @property
    def interval(self) -> float:
        return self.doc.get("interval_s", 60)

    @property
    def slot(self) -> int | None:
        return self.doc.get("slot")

    @property
    def evaluations(self) -> int:
        return self.doc.get("evaluations_total", 0)

    @property
    def runs(self) -> list[dict]:
        """The latest evaluations, oldest first: slot, instant, duration, evaluator (host:pid)."""
        return self.doc.get("runs", [])

    def late_seconds(self, wall: float | None = None) -> float | None:
        """How long past its interval the evaluator is (None: on time, or never ran)."""
        if self.finished is None:
            return None
        age = (wall or time.time()) - self.finished
        return age if age > 2 * self.interval + 30 else None

    def rule(self, name: str) -> dict | None:
        return self.doc.get("rules", {}).get(name)

    def series(self, rule: str) -> list[dict]:
        return [s for s in self.doc.get("series", []) if s["rule"] == rule]

    def committed_carries(self, rule: str) -> dict[Labels, Carry]:
        return {labels_key(s["labels"]): carry_from(s["committed"]) for s in self.series(rule)}

    @cached_property
    def _periods(self) -> dict[tuple[str, Labels], list[Period]]:
        found: dict[tuple[str, Labels], list[Period]] = {}
        for row in self.doc.get("periods", []):
            found.setdefault((row["rule"], labels_key(row["labels"])), []).append(period_from(row))
        return found

    def alerts(self, rules: list[Rule], at: datetime | None = None) -> list[Alert]:
        """Every configured rule's series as of `at` (default: the last evaluation), with their firing periods.

        Before the last evaluation, each series' state is the one its history had at `at`.
        """
        if not self.evaluated:
            return []
        if at is not None and at >= self.evaluated_at:
            at = None
        alerts = []
        for rule in rules:
            state = self.rule(rule.name)
            if state is None:
                continue  # a rule added since the last evaluation: nothing known yet
            if state.get("error") and at is None:
                alerts.append(Alert(rule, dict(rule.labels), "error", error=state["error"]))
                continue
            for row in self.series(rule.name):
                key = (rule.name, labels_key(row["labels"]))
                periods = [p for p in self._periods.get(key, []) if at is None or p.start <= at]
                if at is None:
                    alerts.append(Alert.from_carry(rule, row["labels"], carry_from(row["display"]), periods))
                else:
                    alerts.append(self._alert_at(rule, row["labels"], periods, at))
        return alerts

    def _alert_at(self, rule: Rule, labels: dict, periods: list[Period], at: datetime) -> Alert:
        """The series' state at `at` from its history: the last change at or before it."""
        changes = [t for t in self._transitions.get((rule.name, labels_key(labels)), []) if _parse(t["bucket"]) <= at]
        if not changes:
            return Alert(rule, labels, "nodata", periods=[])
        last = changes[-1]
        state, since = last["state"], _parse(last["bucket"])
        periods = [p if p.end is None or p.end <= at else Period(p.start, None, p.severity, p.peak) for p in periods]
        if state in ACTIVE and periods and periods[-1].end is None:
            since = periods[-1].start
        severity = last["severity"] if state in ACTIVE else None
        return Alert(rule, labels, state, severity, last["value"], since, periods)

    def severity_since(self, alert: Alert) -> datetime | None:
        """When a firing series began to fire at its current severity: later than its period's start when it
        went from warning to critical (or back) on the way. None when its history no longer says."""
        start = None
        for row in reversed(self._transitions.get((alert.rule.name, labels_key(alert.labels)), [])):
            if row["state"] not in ACTIVE or row["severity"] != alert.severity:
                return _parse(start)
            start = row["bucket"]
        return None  # the run began before the history kept: its period's start is the best known

    @cached_property
    def _transitions(self) -> dict[tuple[str, Labels], list[dict]]:
        found: dict[tuple[str, Labels], list[dict]] = {}
        for row in self.doc.get("transitions", []):
            found.setdefault((row["rule"], labels_key(row["labels"])), []).append(row)
        for rows in found.values():
            rows.sort(key=lambda row: row["bucket"])
        return found

    def periods(self, rules: list[Rule], start: datetime, end: datetime) -> list[tuple[Rule, dict, Period]]:
        """The firing periods of the rules that overlap [start, end), in time order."""
        by_name = {rule.name: rule for rule in rules}
        found = []
        for row in self.doc.get("periods", []):
            rule = by_name.get(row["rule"])
            period = period_from(row)
            if rule is None or period.start >= end or (period.end is not None and period.end <= start):
                continue
            found.append((rule, row["labels"], period))
        return sorted(found, key=lambda item: (item[2].start, item[0].name))

    def metric_values(self) -> list[dict]:
        """Each named metric's newest value per series: {"metric", "labels", "bucket", "value"}."""
        return self.doc.get("metrics", [])

    def sent(self, channel: str) -> dict:
        return self.doc.get("sent", {}).get(channel, {})

    def version(self, *parts: str) -> str:
        """A short hash of some of the document's parts: what a chart drew from (its cache key, auto-refresh).

        Kept per snapshot: every chart with bands asks it on every request and tick, and the document only
        changes with an evaluation.
        """
        if parts not in self._versions:
            payload = json.dumps([self.doc.get(part) for part in parts], sort_keys=True, default=str)
            self._versions[parts] = hashlib.sha256(payload.encode()).hexdigest()[:16]
        return self._versions[parts]


# -- where it lives --------------------------------------------------------------------------


class FileStore:
    """The document as a file in the state folder, replaced by rename; locks are flocks (one host)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "alerts.json"
        self._seen: tuple | None = None
        self._snapshot = Snapshot(None)
        self._guard = threading.Lock()

    def describe(self) -> str:
        return str(self.path)

    def load(self) -> Snapshot:
        """The current version; decoded once per file version (a stat per call)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return Snapshot(None)
        seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._guard:
            if seen != self._seen:
                try:
                    doc = json.loads(self.path.read_text())
                except FileNotFoundError:  # replaced between stat and read: the next call reads the new one
                    return self._snapshot
                self._snapshot, self._seen = Snapshot(doc, doc.get("generation", 0)), seen
            return self._snapshot

    def commit(self, doc: dict, expected: int) -> bool:
        """Write `doc` as generation expected + 1 if the store is still at `expected`; False if another wrote first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with file_lock(self.folder / ".commit.lock", wait=30) as held:
            if not held or self.load().generation != expected:
                return False
            doc = {**doc, "generation": expected + 1}
            partial = self.folder / f".alerts.json.{os.getpid()}.tmp"
            partial.write_text(json.dumps(doc, separators=(",", ":")))  # in order: labels keep their metric's
            os.replace(partial, self.path)  # atomic: a reader sees the old document or the new one
        return True

    @contextmanager
    def lock(self, wait: float = 0) -> Iterator[bool]:
        """Hold the evaluator lock (True), or give up after `wait` seconds (False); released if the process dies."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with file_lock(self.folder / "evaluator.lock", wait) as held:
            yield held


class RedisStore:
    """The document under one Redis key with a generation counter, for several hosts; the lock is a Redis lock."""

    # The lock lives this long unless its holder renews it (a third of the way through, while it works): an
    # evaluator that dies mid-evaluation frees it within this time. Even an evaluation that lost its lock is
    # safe: its commit fails on the generation.
    LOCK_SECONDS = 15

    def __init__(self, url: str):
        import redis  # here: Redis is needed only when the store lives there

        self.url = url
        # Short timeouts: pages read the store on every chart with bands.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
        self._failing = False
        self._seen: int | None = None
        self._snapshot = Snapshot(None)
        self._guard = threading.Lock()

    def describe(self) -> str:
        return redacted_url(self.url)

    def load(self) -> Snapshot:
        """The current version: one GET of the generation, and of the document when it changed.

        While Redis cannot be reached, the last version read (or none): the pages say how old it is.
        """
        from redis.exceptions import RedisError

        try:
            generation = int(self.client.get(REDIS_KEY + ":generation") or 0)
            with self._guard:
                if generation != self._seen:
                    raw = self.client.get(REDIS_KEY)
                    doc = json.loads(raw) if raw else None
                    self._snapshot = Snapshot(doc, doc.get("generation", 0) if doc else 0)
                    self._seen = self._snapshot.generation
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning(
                    "the alert store at %s cannot be read (%s); using what was read before", self.describe(), exc
                )
            self._failing = True
            return self._snapshot
        if self._failing:
            log.warning("the alert store at %s can be read again", self.describe())
            self._failing = False
        return self._snapshot

    def commit(self, doc: dict, expected: int) -> bool:
        from redis.exceptions import WatchError

        with self.client.pipeline() as pipe:
            try:
                pipe.watch(REDIS_KEY + ":generation")
                if int(pipe.get(REDIS_KEY + ":generation") or 0) != expected:
                    return False
                pipe.multi()
                pipe.set(REDIS_KEY, json.dumps({**doc, "generation": expected + 1}, separators=(",", ":")))
                pipe.set(REDIS_KEY + ":generation", expected + 1)
                pipe.execute()
            except WatchError:
                return False
        return True

    @contextmanager
    def lock(self, wait: float = 0) -> Iterator[bool]:
        """Hold the evaluator lock across hosts (True), or give up after `wait` seconds (False)."""
        lock = self.client.lock(
            REDIS_KEY + ":lock",
            timeout=self.LOCK_SECONDS,
            blocking=wait > 0,
            blocking_timeout=wait or None,
            thread_local=False,  # renewed by a thread of its own
        )
        held = lock.acquire(token=f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
        done = threading.Event()
        if held:
            threading.Thread(target=self._renew, args=(lock, done), daemon=True, name="dashapp-lock").start()
        try:
            yield held
        finally:
            done.set()
            if held:
                try:
                    lock.release()
                except Exception:  # expired meanwhile: whoever holds it now keeps it
                    log.warning("the evaluator lock expired during the evaluation")

    def _renew(self, lock, done: threading.Event) -> None:
        while not done.wait(self.LOCK_SECONDS / 3):
            try:
                lock.reacquire()
            except Exception as exc:  # lost: the evaluation goes on, and its commit tells
                log.warning("the evaluator lock could not be renewed: %s", exc)
                return


_STORES: dict[tuple, FileStore | RedisStore] = {}


def open_store(config: Config) -> FileStore | RedisStore:
    """The configured store, one per process (its decoded snapshot is shared by the threads)."""
    key = (os.getpid(), config.state_redis_url, str(config.state_dir))
    if key not in _STORES:
        _STORES[key] = RedisStore(config.state_redis_url) if config.state_redis_url else FileStore(config.state_dir)
    return _STORES[key]


def as_of(snapshot: Snapshot) -> str:
    """Say how current the alert states are, for a panel's footer: as of when, and whether the evaluator is late."""
    if not snapshot.evaluated:
        return "no alert states yet: the scheduler has not evaluated the rules (dashapp scheduler)"
    text = f"alert states as of {snapshot.evaluated_at:%Y-%m-%d %H:%M} UTC"
    late = snapshot.late_seconds()
    if late is not None:
        text += f"; the evaluator has not run for {_duration(late)}"
    return text


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h" if minutes < 48 * 60 else f"{minutes / 1440:.0f} days"
