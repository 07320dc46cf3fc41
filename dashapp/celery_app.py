"""The Celery app: where dashapp's jobs run when DASHAPP_CELERY_BROKER_URL names a Redis broker.

    celery -A dashapp.celery_app worker --loglevel INFO

Its tasks today are the Dash app's background callbacks (the Backtests tearsheet). Dash's CeleryManager
makes each one a task named background_callback_<hash of the callback's id and code> when the Dash app
registers its callbacks, so the worker builds the Dash app as it starts (below): it then knows the tasks
the portal sends, under the same names.

dashapp's own tasks go in this module too, as @app.task functions, and their schedule in
app.conf.beat_schedule.
"""

from __future__ import annotations

import sys

from celery import Celery, signals

from .config import Config, env_name
from .errors import ConfigError


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
    }


app = make_celery()


@signals.celeryd_init.connect
def _register_background_callbacks(instance, **_) -> None:
    """A starting `celery worker` on this app builds the Dash app on it: each background callback becomes a task."""
    if instance.app is app:
        from . import create_app  # here: the web process imports this module too, and builds its own app

        create_app(celery=app)
