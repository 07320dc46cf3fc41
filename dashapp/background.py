"""Background callbacks: the manager that runs their jobs, and what a job runs with.

A background callback's job runs outside the request that started it, so it may take longer than a
request may, and the browser polls for its progress and result. Without a broker each job is a
process forked from the gunicorn worker (Dash's DiskcacheManager; progress and results in a
diskcache under the cache folder, which every worker of the host reads). With
DASHAPP_CELERY_BROKER_URL each job is a Celery task that `celery -A dashapp.celery_app worker` runs
(Dash's CeleryManager; progress and results in the broker's Redis).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import diskcache
from dash import CeleryManager, DiskcacheManager
from flask import Flask

from . import deadline
from .config import Config
from .db import Database

log = logging.getLogger(__name__)


def background_manager(config: Config, celery=None) -> DiskcacheManager | CeleryManager:
    """Dash's DiskcacheManager, or with a broker a CeleryManager on `celery` (default: a Celery app from config)."""
    if not config.celery_broker_url:
        return DiskcacheManager(_job_store(config))
    from .celery_app import make_celery  # here: celery is needed only with a broker

    return SharedSecretCeleryManager(celery or make_celery(config))


class SharedSecretCeleryManager(CeleryManager):
    """Dash's CeleryManager, with the secret that signs job handles stored once and for good.

    Dash signs the handles it gives the browser and checks them on each poll, which may reach another
    gunicorn worker, so all workers need one secret. The stock manager stores it with the results'
    expiry (a day) and without SET NX: two workers starting together can each keep their own, and a
    worker started a day later makes a new one, and then polls answered by a sibling never see the result.
    """

    def get_or_create_signing_secret(self, generate):
        client = self.handle.backend.client
        client.set(self.SIGNING_SECRET_KEY, generate(), nx=True)
        return client.get(self.SIGNING_SECRET_KEY)


def _job_store(config: Config) -> diskcache.Cache:
    """The jobs' diskcache in the cache folder, or, where that folder fails as the worker starts (full, read-only),
    in the temporary folder, which the host's workers share as well: the worker starts and its pages serve."""
    folders = (config.background_dir, Path(tempfile.gettempdir()) / f"dashapp-background-{os.getuid()}")
    for folder in folders:
        try:
            store = diskcache.Cache(str(folder))
        except (OSError, sqlite3.Error) as exc:
            log.warning("background jobs cannot keep their progress in %s (%s)", folder, exc)
            continue
        if folder != folders[0]:
            log.warning("background jobs keep their progress in %s instead", folder)
        return store
    raise RuntimeError("no folder for the background jobs' progress: see the warnings above")


def close_job_store(manager) -> None:
    """Close this thread's connection to the jobs' diskcache (a thread opens one again when a job needs it).

    Dash reads the secret that signs job handles from there once, as the app renders its first page; after that
    the worker holds no file open for writing in the cache folder while no job runs, so the folder's volume can be
    remounted read-only, or go, without the worker in the way."""
    if isinstance(manager, DiskcacheManager):
        manager.handle.close()


@contextmanager
def job_scope(server: Flask, db: Database) -> Iterator[Database]:
    """What a request gives its queries, for a job that runs outside one: the app context (the results cache),
    a query deadline, a snapshot of the data folder, and a Database of the job's own.

    Its own, because a job forked from a gunicorn worker inherits the worker's Database: a DuckDB whose
    threads are not in the child (freeing it there waits for them for ever) and locks that other threads may
    have held. The inherited one stays referenced and unused; the child ends with os._exit, freeing nothing.
    """
    with server.app_context():
        own = Database(db.config, cache=db.cache)
        deadline.begin(db.config.query_timeout)
        own.begin_snapshot()
        try:
            yield own
        finally:
            own.end_snapshot()
            deadline.end()
