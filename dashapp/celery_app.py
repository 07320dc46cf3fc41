"""The Celery app: where dashapp's background work runs when DASHAPP_CELERY_BROKER_URL names a Redis broker,
as Superset runs its alerts and reports: one beat schedules, any number of workers compute.

    celery -A dashapp.celery_app worker --loglevel INFO
    celery -A dashapp.celery_app beat --loglevel INFO --schedule /var/lib/dashapp/celerybeat-schedule

Its tasks:
- `dashapp.tick`, every DASHAPP_ALERT_INTERVAL seconds (beat_schedule): the scheduler's work, the same
  `runner.tick` that `dashapp scheduler` runs: evaluate the alert rules into the state store, notify, warm.
  Acknowledged late and put back if its worker dies, so a killed evaluation is done again by another
  worker; it writes nothing twice, since an evaluation commits all or nothing and an interval is
  evaluated once (the store records the last), whatever number of tasks arrive for it.
- the Dash app's background callbacks (the Backtests tearsheet). Dash's CeleryManager makes each one a
  task named background_callback_<hash of the callback's id and code> when the Dash app registers its
  callbacks, so the worker builds the Dash app as it starts (below): it then knows the tasks the portal
  sends, under the same names.
"""

from __future__ import annotations

import functools
import sys

from celery import Celery, signals

from .config import Config, env_name
from .errors import ConfigError

TICK = "dashapp.tick"
LOCK_WAIT = 20.0  # seconds: longer than the Redis lock lives without its holder renewing it


def make_celery(config: Config | None = None) -> Celery:
    """A Celery app whose broker is also its result backend (where Dash keeps jobs' progress and results).

    Without a config, the DASHAPP_* variables are read when Celery first needs a setting, not at import:
    the module imports without them.
    """
    celery = Celery("dashapp")
    celery.add_defaults(_settings_from_env if config is None else lambda: celery_settings(config))
    return celery


def _settings_from_env() -> dict:
    """The settings from DASHAPP_* variables; a bad or missing one stops the worker with one line, as gunicorn."""
    try:
        return celery_settings(Config.from_env())
    except ConfigError as exc:
        sys.exit(f"dashapp: {exc}")


def celery_settings(config: Config) -> dict:
    if not config.celery_broker_url:
        raise ConfigError(f"{env_name('celery_broker_url')} is not set: Celery needs the broker's redis:// URL")
    return {
        "broker_url": config.celery_broker_url,
        "result_backend": config.celery_broker_url,
        # A job is acknowledged when it is done, and put back when the process running it dies, so another
        # worker runs it rather than the browser waiting for ever; each process takes one job at a time, so
        # none waits behind a long one it prefetched.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        # A tick that runs late (a backlog, a redelivery) evaluates the interval it runs in, if no other has.
        "beat_schedule": {"alert-rules": {"task": TICK, "schedule": float(config.alert_interval)}},
        # Redis redelivers a task whose worker vanished without a word (killed outright) after this long.
        "broker_transport_options": {"visibility_timeout": max(300, 5 * config.alert_interval)},
    }


app = make_celery()


@app.task(name=TICK)
def tick() -> str:
    """One interval of the scheduler's work on this worker: evaluate, notify, warm; say what it did."""
    from .alerts.rules import configured_rules
    from .runner import precise_now
    from .runner import tick as run_tick

    config, server, db = _worker_database()
    with server.app_context():
        # Wait out an evaluation under way, or a lock left by a killed worker until it lapses.
        outcome = run_tick(db, configured_rules(config), precise_now(), wait=LOCK_WAIT)
    return outcome.reason


@functools.cache
def _worker_database():
    """One Database per worker process (DuckDB opens per process), on the portal's results cache."""
    from .runner import worker_database

    config = Config.from_env()
    return (config, *worker_database(config))


@signals.celeryd_init.connect
def _register_background_callbacks(instance, **_) -> None:
    """A starting `celery worker` on this app builds the Dash app on it: each background callback becomes a task."""
    if instance.app is app:
        from . import create_app  # here: the web process imports this module too, and builds its own app

        create_app(celery=app)
