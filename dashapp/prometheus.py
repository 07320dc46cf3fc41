"""GET /metrics in the Prometheus text format: the named metrics now, the alert states, the app's requests and the
DuckDB queries they ran (querycount.py).

Prometheus, Grafana and Alertmanager stacks scrape this instead of re-deriving what the portal
computes. Under gunicorn every worker counts its own requests into files in
PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py), and a scrape sums them, so whichever worker
answers, the counts are the whole server's.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import timedelta

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .alerts.evaluate import evaluate
from .alerts.metrics import METRICS, Span
from .alerts.rules import configured_rules
from .db import Database
from .errors import DataUnavailable, QueryRefused
from .querycount import ROUTE, queries_counter
from .timerange import BUCKETS, utc_now

log = logging.getLogger(__name__)
REQUESTS = Counter("dashapp_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "dashapp_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOOKBACK = timedelta(days=7)  # alert history evaluated before now, as `dashapp alerts` does by default
METRIC_BUCKET = "1h"  # each named metric's current value: its newest hourly (or daily) value


def prometheus_name(metric: str) -> str:
    return "dashapp_" + re.sub(r"[^a-zA-Z0-9_]", "_", metric)


class PortalCollector:
    """Collects at scrape time, from the cached queries: every named metric's newest value and every alert."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        now = utc_now().replace(second=0, microsecond=0)  # one minute's scrapes share their cache entries
        yield from self._metrics(now)
        yield from self._alerts(now)

    def _metrics(self, now):
        for metric in METRICS.values():
            bucket = METRIC_BUCKET if METRIC_BUCKET in metric.buckets else metric.buckets[-1]
            family = GaugeMetricFamily(prometheus_name(metric.name), metric.help, labels=list(metric.labels))
            try:
                frame = metric.compute(self.db, Span(now - LOOKBACK, now, BUCKETS[bucket]))
            except DataUnavailable:
                continue  # its table is missing: the alert rules report the error
            except QueryRefused as exc:  # past the scrape's deadline: a partial scrape beats a failed one
                log.warning("metric %s left out of this scrape: %s", metric.name, exc.message)
                continue
            frame = frame.sort_values("bucket")
            newest = frame.groupby(list(metric.labels)).tail(1) if metric.labels else frame.tail(1)
            for _, row in newest.iterrows():
                family.add_metric([str(row[label]) for label in metric.labels], float(row["value"]))
            yield family

    def _alerts(self, now):
        alerts = evaluate(self.db, configured_rules(self.db.config), now - LOOKBACK, now)
        names = sorted({label for alert in alerts for label in alert.labels})
        labels = ["alertname", "alertstate", "severity", *names]
        state = GaugeMetricFamily("dashapp_alert", "One series per alert rule and label set; its state", labels=labels)
        value = GaugeMetricFamily("dashapp_alert_value", "The value an alert rule compares", labels=labels)
        for alert in alerts:
            series = [alert.rule.name, alert.state, alert.severity or "", *(alert.labels.get(n, "") for n in names)]
            state.add_metric(series, 1)
            if alert.value is not None:
                value.add_metric(series, alert.value)
        yield state
        yield value


def init_metrics(server: Flask, db: Database) -> None:
    """Time every request, and serve /metrics from a registry of the portal's collector and the request counts."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every worker's request counts, summed
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
        registry.register(queries_counter())
    registry.register(PortalCollector(db))

    @server.before_request
    def _start_timer():
        g.dashapp_started = time.perf_counter()
        ROUTE.set(_route())

    @server.after_request
    def _count(response):
        route = _route()
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("dashapp_started")
        if started is not None:
            LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    def _route() -> str:
        return request.url_rule.rule if request.url_rule else "unmatched"  # a template: bounded labels

    @server.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
