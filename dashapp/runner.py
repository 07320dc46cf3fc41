"""The scheduler process (`dashapp scheduler`): each interval, evaluate the alert rules into the state
store, send the notifications their changes call for, and warm the pages' default views after new data
or code. It runs beside gunicorn (`dashapp serve` starts both) or on Celery workers (celery_app.py),
never inside a web worker, so no page waits for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

from flask import Flask

from .alerts.notify import notify
from .alerts.rules import Rule, RulesError, configured_rules
from .alerts.scheduler import Outcome, evaluate_once, slot_of
from .alerts.store import open_store
from .cache import cache, init_cache
from .config import Config
from .db import CODE_VERSION, Database
from .warm import warm_default_views

log = logging.getLogger(__name__)
WARM_EVERY = 300  # seconds: new data warms the default views at most this often


def precise_now() -> datetime:
    """Now in naive UTC to the second: an interval may be shorter than a minute."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def worker_database(config: Config) -> tuple[Flask, Database]:
    """A Database on the portal's results cache, so the scheduler and the web workers share what they compute."""
    server = Flask("dashapp-scheduler")
    init_cache(server, config)
    return server, Database(config, cache=cache)


def tick(
    db: Database, rules: list[Rule], now: datetime, rebuild: bool = False, wait: float = 0, warm: bool = True
) -> Outcome:
    """One interval's work under the evaluator lock: evaluate (unless done already), notify, and warm the pages'
    default views when the data or the code changed.

    Notifications go out even when the interval was evaluated already: a receiver that failed gets its
    changes at the next tick, whoever evaluated.
    """
    store = open_store(db.config)
    with store.lock(wait) as held:
        if not held:
            return Outcome(False, "another evaluator is at work", store.load())
        db.begin_snapshot()  # one listing of the data folder for the whole evaluation, as for a request
        try:
            outcome = evaluate_once(db, store, rules, now, rebuild=rebuild)
        finally:
            db.end_snapshot()
        problems = notify(store, store.load(), rules, db.config)
        if warm:
            warm_after_change(db, store)
    for problem in problems:
        log.warning("%s", problem)
    return replace(outcome, snapshot=store.load(), problems=tuple(problems))


def warm_after_change(db: Database, store) -> bool:
    """Render every page's default views after new data or new code, so the first visitor finds them cached.

    After a deploy (new code) at once; on new data at most every WARM_EVERY, since in a live system files
    arrive every minute and the visitors of a page already share what one of them computed.
    """
    snapshot = store.load()
    warmed = snapshot.doc.get("warmed") or {}
    data = data_version(db)
    if warmed.get("data") == data and warmed.get("code") == CODE_VERSION:
        return False
    if warmed.get("code") == CODE_VERSION and time.time() - warmed.get("at", 0) < WARM_EVERY:
        return False
    started = time.perf_counter()
    results = warm_default_views(db, days=())
    seconds = time.perf_counter() - started
    skipped = [r for r in results if r.skipped]
    log.info("warmed %d default views in %.1f s (%d skipped)", len(results) - len(skipped), seconds, len(skipped))
    record = {
        "data": data,
        "code": CODE_VERSION,
        "at": time.time(),
        "seconds": round(seconds, 2),
        "views": len(results),
    }
    latest = store.load()
    store.commit({**latest.doc, "warmed": record}, latest.generation)
    return True


def data_version(db: Database) -> str:
    """Identify the data folder's files as they are now: every table's fingerprint."""
    files = {table: source.fingerprint if source else None for table, source in db.scan().items()}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def run_forever(config: Config, stop: threading.Event) -> None:
    """Evaluate at the start of every interval until `stop` is set; a failed evaluation is logged and retried."""
    server, db = worker_database(config)
    rules = configured_rules(config)
    log.info(
        "scheduler: evaluating %d alert rules every %d s into %s",
        len(rules),
        config.alert_interval,
        open_store(config).describe(),
    )
    with server.app_context():
        while not stop.is_set():
            try:
                rules = configured_rules(config)
            except RulesError as exc:  # an edit broke the file: keep evaluating the last good rules
                log.error("alert rules not reloaded, keeping the last good ones: %s", exc)
            try:
                outcome = tick(db, rules, precise_now())
                if not outcome.evaluated:
                    log.info("scheduler: nothing to do (%s)", outcome.reason)
            except Exception:
                log.exception("alert evaluation failed; trying again next interval")
            stop.wait(_until_next_slot(config.alert_interval))


def _until_next_slot(interval: int) -> float:
    now = datetime.now(UTC).replace(tzinfo=None)
    start = datetime(1970, 1, 1)
    next_start = (slot_of(now, interval) + 1) * interval
    return max(0.05, next_start - (now - start).total_seconds())
