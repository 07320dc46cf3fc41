"""GET /metrics in the Prometheus text format: the named metrics now, the alert states and the scheduler's
evaluations (all read from the alert store, never computed here), the app's requests and the DuckDB
queries they ran (querycount.py).

Prometheus, Grafana and Alertmanager stacks scrape this instead of re-deriving what the portal
computes. A scrape is a read: the scheduler evaluated the metrics and the rules, so it answers in
milliseconds, far inside Prometheus' scrape timeout. Under gunicorn every worker counts its own
requests into files in PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py), and a scrape sums them, so
whichever worker answers, the counts are the whole server's.

Names follow Prometheus' conventions: base units (seconds; ratios from 0 to 1), so
`ops.latency_p95_ms` is exported as `dashapp_ops_latency_p95_seconds`.
"""

from __future__ import annotations

import os
import re
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .alerts.metrics import METRICS
from .alerts.rules import configured_rules
from .alerts.store import open_store
from .config import Config
from .querycount import ROUTE, queries_counter

REQUESTS = Counter("dashapp_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "dashapp_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# A metric's unit suffix -> (the base unit's suffix, the factor to it).
BASE_UNITS = {"_ms": ("_seconds", 0.001), "_minutes": ("_seconds", 60.0), "_pct": ("_ratio", 0.01)}


def prometheus_name(metric: str) -> tuple[str, float]:
    """The exported name of a named metric in base units, and the factor its values are multiplied by."""
    name = "dashapp_" + re.sub(r"[^a-zA-Z0-9_]", "_", metric)
    for suffix, (base, factor) in BASE_UNITS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)] + base, factor
    return name, 1.0


class PortalCollector:
    """Collects at scrape time from the alert store: every named metric's newest value, every alert, the evaluations."""

    def __init__(self, config: Config):
        self.config = config

    def collect(self):
        snapshot = open_store(self.config).load()
        yield from self._metrics(snapshot)
        yield from self._alerts(snapshot)
        yield from self._evaluations(snapshot)

    def _metrics(self, snapshot):
        values: dict[str, list[dict]] = {}
        for row in snapshot.metric_values():
            values.setdefault(row["metric"], []).append(row)
        for metric in METRICS.values():
            name, factor = prometheus_name(metric.name)
            family = GaugeMetricFamily(name, metric.help, labels=list(metric.labels))
            for row in values.get(metric.name, ()):
                family.add_metric([row["labels"].get(label, "") for label in metric.labels], row["value"] * factor)
            yield family

    def _alerts(self, snapshot):
        alerts = snapshot.alerts(configured_rules(self.config))
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

    def _evaluations(self, snapshot):
        yield CounterMetricFamily(
            "dashapp_alert_evaluations", "Evaluations of the alert rules by the scheduler", value=snapshot.evaluations
        )
        if snapshot.evaluated:
            yield GaugeMetricFamily(
                "dashapp_alert_last_evaluation_timestamp_seconds",
                "When the last evaluation of the alert rules finished (Unix time)",
                value=snapshot.finished,
            )
            yield GaugeMetricFamily(
                "dashapp_alert_last_evaluation_duration_seconds",
                "How long the last evaluation of the alert rules took",
                value=snapshot.duration,
            )


def init_metrics(server: Flask, config: Config) -> None:
    """Time every request, and serve /metrics from a registry of the portal's collector and the request counts."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every worker's request counts, summed
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
        registry.register(queries_counter())
    registry.register(PortalCollector(config))

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
