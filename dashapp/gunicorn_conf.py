"""gunicorn settings for dashapp (`gunicorn --config python:dashapp.gunicorn_conf`, what `dashapp serve` runs); bind,
workers and threads come from DASHAPP_* variables. A module of the package, so an installed dashapp has it too.

The app is not preloaded: each worker imports it after the fork, so DuckDB is never opened in
the master and no connection is shared across processes.
"""

import os
import shutil
import sys

from dashapp.config import Config
from dashapp.errors import ConfigError

try:
    _config = Config.from_env()
except ConfigError as exc:
    sys.exit(f"dashapp: {exc}")

# /metrics sums every worker's request counts from files here (prometheus_client's multiprocess mode), a folder
# of this server's own (its master's pid) in DASHAPP_METRICS_DIR, on another volume than the cache folder by
# default (dashapp/metricfiles.py). Set before any worker imports prometheus_client: it picks its mode at import.
_METRICS_PREFIX = "dashapp-metrics-"
_metrics_dir = _config.metrics_dir / f"{_METRICS_PREFIX}{os.getpid()}"
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

from dashapp.alerts.rules import RulesError, load_rules  # noqa: E402  (after the variable above)

try:  # a malformed rules file stops the server here, in one line, not in every worker
    load_rules(_config.alert_rules, _config)
except RulesError as exc:
    sys.exit(f"dashapp: {exc}")


def on_starting(server):
    from dashapp.metricfiles import sweep_stale

    shutil.rmtree(_metrics_dir, ignore_errors=True)  # an earlier server's with our pid: its counts are not ours
    sweep_stale(_config.metrics_dir, _METRICS_PREFIX)  # and those of servers killed before their on_exit
    try:
        _metrics_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the workers count in memory until it can be made (metricfiles.py), and say so
        server.log.warning("the Prometheus folder %s cannot be made: %s", _metrics_dir, exc)


def child_exit(server, worker):
    from dashapp.metricfiles import archive_exited

    archive_exited(worker.pid, _metrics_dir)  # its counts into the archive, and its files gone


def on_exit(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)


wsgi_app = "dashapp.wsgi:server"
bind = _config.bind
workers = _config.workers
threads = _config.threads
worker_class = "gthread"
preload_app = False
# Layered timeouts: DuckDB is interrupted at DASHAPP_QUERY_TIMEOUT (deadline.py); gunicorn restarts a
# worker silent for 30 s more; a proxy in front should wait longer still. Slow clients are cut at `keepalive`.
timeout = int(_config.query_timeout) + 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory hygiene); jitter keeps them from restarting together.
# Not too often: a new worker re-imports Dash, plotly and pandas (about 3 s of a core); at 2,000 the load
# test's 125 requests/s per worker restarted one every 8 s and spent a third of a core on it.
max_requests = 20000
max_requests_jitter = 2000
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
logger_class = "dashapp.accesslog.RedactingLogger"  # signed links' tokens stay out of the access log
errorlog = "-"
loglevel = _config.log_level.lower()
