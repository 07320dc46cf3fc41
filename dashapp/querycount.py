"""A count of the DuckDB queries each worker runs, by query file and by the HTTP route that asked, for /metrics.

Cache hits run none, so the count says what a view or an auto-refresh really costs: an idle wall screen
should leave it still. prometheus.py names the route per request; outside a request (the CLI) it is "none".

prometheus_client picks its multiprocess mode when it is first imported, and dashapp/gunicorn_conf.py imports
dashapp (and so this module) before it sets PROMETHEUS_MULTIPROC_DIR: the counter is made on first use.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from functools import cache

ROUTE: ContextVar[str] = ContextVar("dashapp_query_route", default="none")
_LOCK = threading.Lock()


def count_query(name: str) -> None:
    queries_counter().labels(name, ROUTE.get()).inc()


def queries_counter():
    with _LOCK:  # two threads' first queries must not both register it
        return _counter()


@cache
def _counter():
    from prometheus_client import Counter  # not at import: see above

    from .metricfiles import install

    install()
    return Counter(
        "dashapp_duckdb_queries", "DuckDB queries run (cache misses), by query file and route", ["query", "route"]
    )
