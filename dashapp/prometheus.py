"""GET /metrics in the Prometheus text format: the named metrics now, the alert states and the scheduler's
evaluations (all read from the alert store, never computed here), the app's requests and the DuckDB
queries they ran (querycount.py).

Prometheus, Grafana and Alertmanager stacks scrape this instead of re-deriving what the portal
computes. A scrape is a read: the scheduler evaluated the metrics and the rules, so it answers in
milliseconds, far inside Prometheus' scrape timeout. Under gunicorn every worker counts its own
requests into files in PROMETHEUS_MULTIPROC_DIR (set by dashapp/gunicorn_conf.py), and a scrape sums them, so
whichever worker answers, the counts are the whole server's; metricfiles.py keeps those files from taking a worker
down with their volume.

Names follow Prometheus' naming conventions, and `promtool check metrics` finds nothing to report
(tests/browser/test_prometheus.py): see EXPORTED and LABELS.
"""

from __future__ import annotations

import time
from functools import cache

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import metricfiles
from .alerts.metrics import METRICS
from .alerts.rules import configured_rules
from .alerts.store import open_store
from .config import Config
from .querycount import ROUTE, queries_counter


@cache
def request_metrics() -> tuple[Counter, Histogram]:
    """The request counter and latency histogram, made on first use: after metricfiles.install()."""
    metricfiles.install()
    requests = Counter("dashapp_http_requests", "HTTP requests answered", ["method", "route", "status"])
    latency = Histogram(
        "dashapp_http_request_duration_seconds",
        "Time to answer an HTTP request",
        ["method", "route"],
        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )
    return requests, latency


# Each named metric's exported name, and the factor from the unit its rules use to Prometheus' base unit. The rules
# keep their names and units (thresholds in ms, minutes and percent read better); Prometheus gets seconds and ratios
# from 0 to 1, and a fraction is a `_ratio`, never a `_rate` (a rate is per second there) or a `_share`. A table, not
# a rule over suffixes: a new metric gets its name deliberately, and /metrics fails until it has one.
EXPORTED: dict[str, tuple[str, float]] = {
    "ops.latency_p95_ms": ("dashapp_ops_latency_p95_seconds", 0.001),
    "ops.error_rate": ("dashapp_ops_error_ratio", 1.0),
    "ops.cache_hit_rate": ("dashapp_ops_cache_hit_ratio", 1.0),
    "ab.traffic_share": ("dashapp_ab_traffic_ratio", 1.0),
    "ab.canary_share": ("dashapp_ab_canary_traffic_ratio", 1.0),
    "model.accuracy": ("dashapp_model_accuracy_ratio", 1.0),
    "drift.psi": ("dashapp_drift_psi", 1.0),
    "drift.share_drifted": ("dashapp_drift_features_drifted_ratio", 1.0),
    "prediction.label_kl": ("dashapp_prediction_label_kl", 1.0),
    "data.freshness_minutes": ("dashapp_data_freshness_seconds", 60.0),
    "pipeline.failure_rate": ("dashapp_pipeline_failure_ratio", 1.0),
    "agent.drawdown": ("dashapp_agent_drawdown_ratio", 1.0),
    "quality.missing_rate": ("dashapp_quality_missing_ratio", 1.0),
    "service.up": ("dashapp_service_up_ratio", 1.0),
    "service.cpu_pct": ("dashapp_service_cpu_usage_ratio", 0.01),
    "service.memory_pct": ("dashapp_service_memory_usage_ratio", 0.01),
    "slo.burn_fast": ("dashapp_slo_burn_fast", 1.0),
    "slo.burn_medium": ("dashapp_slo_burn_medium", 1.0),
    "slo.burn_slow": ("dashapp_slo_burn_slow", 1.0),
    "drift.cardinality_growth": ("dashapp_drift_cardinality_growth", 1.0),
}
# Series labels exported under another name: Prometheus sets `instance` (and `job`) on every series it scrapes, and
# would rename a service's own `instance` to `exported_instance`.
LABELS = {"instance": "service_instance"}


def exported_label(label: str) -> str:
    return LABELS.get(label, label)


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
            name, factor = EXPORTED[metric.name]
            family = GaugeMetricFamily(name, metric.help, labels=[exported_label(label) for label in metric.labels])
            for row in values.get(metric.name, ()):
                family.add_metric([row["labels"].get(label, "") for label in metric.labels], row["value"] * factor)
            yield family

    def _alerts(self, snapshot):
        alerts = snapshot.alerts(configured_rules(self.config))
        names = sorted({label for alert in alerts for label in alert.labels})
        labels = ["alertname", "alertstate", "severity", *map(exported_label, names)]
        state = GaugeMetricFamily("dashapp_alert", "One series per alert rule and label set; its state", labels=labels)
        value = GaugeMetricFamily(
            "dashapp_alert_value",
            "The value an alert rule compares with its thresholds, in the base unit of its metric's exported series",
            labels=labels,
        )
        for alert in alerts:
            series = [alert.rule.name, alert.state, alert.severity or "", *(alert.labels.get(n, "") for n in names)]
            state.add_metric(series, 1)
            if alert.value is not None:
                value.add_metric(series, alert.value * EXPORTED[alert.rule.metric][1])
        yield state
        yield value
        yield self._thresholds(configured_rules(self.config))

    @staticmethod
    def _thresholds(rules) -> GaugeMetricFamily:
        """Each rule's thresholds as it compares them, so a dashboard draws the line the alert and the page use."""
        family = GaugeMetricFamily(
            "dashapp_alert_threshold",
            "An alert rule's threshold per severity, in the base unit of its metric's exported series",
            labels=["alertname", "severity", "comparison"],
        )
        for rule in rules:
            factor = EXPORTED[rule.metric][1]
            for severity in ("warning", "critical"):
                limit = getattr(rule.thresholds, severity)
                if limit is not None:
                    family.add_metric([rule.name, severity, rule.thresholds.comparison], limit * factor)
        return family

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
    requests, latency = request_metrics()
    registry = CollectorRegistry()
    files = metricfiles.folder()
    if files is not None:
        registry.register(metricfiles.FilesCollector(files))  # every worker's request counts, summed
    else:
        registry.register(requests)
        registry.register(latency)
        registry.register(queries_counter())
    registry.register(PortalCollector(config))

    @server.before_request
    def _start_timer():
        g.dashapp_started = time.perf_counter()
        ROUTE.set(_route())

    @server.after_request
    def _count(response):
        route = _route()
        requests.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("dashapp_started")
        if started is not None:
            latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    def _route() -> str:
        return request.url_rule.rule if request.url_rule else "unmatched"  # a template: bounded labels

    @server.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
