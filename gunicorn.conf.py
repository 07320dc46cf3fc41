"""gunicorn settings for dashapp. Bind, workers and threads come from DASHAPP_* variables.

The app is not preloaded: each worker imports it after the fork, so DuckDB is never opened in
the master and no connection is shared across processes.
"""

import sys

from dashapp.config import Config
from dashapp.errors import ConfigError

try:
    _config = Config.from_env()
except ConfigError as exc:
    sys.exit(f"dashapp: {exc}")

wsgi_app = "dashapp.wsgi:server"
bind = _config.bind
workers = _config.workers
threads = _config.threads
worker_class = "gthread"
preload_app = False
# Layered timeouts: a request may take up to `timeout`; a slow client is cut at `keepalive`.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory hygiene); jitter keeps them from restarting together.
max_requests = 2000
max_requests_jitter = 200
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"
loglevel = _config.log_level.lower()
