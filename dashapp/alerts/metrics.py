"""Named metrics that alert rules use: each a time series per label set, computed per bucket.

Every metric returns rows (bucket, its labels..., value) for [start, end) in buckets of
`bucket_seconds`, from the same cached queries the pages draw, so an alert and the chart that
shows its cause always agree. A bucket without enough data has no row (the rule sees no data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..backtest.metrics import drawdown_series
from ..backtest.runs import known_runs, load_series
from ..contract import TABLES
from ..db import Database
from ..drift.engine import Window, drift_over_time, label_kl_by_day
from ..errors import DataUnavailable
from ..ops import serving
from ..ops.serving import MIN_REQUESTS
from ..sentiment.metrics import accuracy as daily_accuracy
from ..slo import STEP, TIERS, multiwindow_burn, objectives, stream_events
from ..thresholds import configured, judged

LATE_OUTCOMES = timedelta(days=1)  # an outcome arrives up to a day after its prediction
MIN_OUTCOMES = 100  # fewer predictions with an outcome in a day give no accuracy worth alerting on
ALL_VERSIONS = {"symbol": [], "model_version": None}


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime  # a bucket boundary at or after `now`: no row lies later, and the queries' cache keys hold
    bucket_seconds: int
    now: datetime | None = None  # the evaluation instant, for metrics that measure time itself (freshness)

    @property
    def until(self) -> datetime:
        return self.end if self.now is None else min(self.now, self.end)

    def params(self) -> dict:
        return {"start": self.start, "end": self.end, **ALL_VERSIONS}


@dataclass(frozen=True)
class Metric:
    name: str
    labels: tuple[str, ...]
    page: str  # where a person sees the cause
    buckets: tuple[str, ...]  # the evaluation buckets it supports
    compute: Callable[[Database, Span], pd.DataFrame]
    help: str  # its series' HELP on /metrics, which exports it in a base unit: no unit here (prometheus.py)
    tables: tuple[str, ...]  # what compute reads: its evaluation is cached per their fingerprints
    # How long after a bucket ends its data may still arrive (outcomes, daily returns): until then the scheduler
    # evaluates the bucket again each time instead of settling it.
    settle: timedelta = timedelta(0)
    clocked: bool = False  # its values depend on the moment of evaluation, not only on the data (freshness)


def metric_frame(db: Database, name: str, span: Span) -> pd.DataFrame:
    """A metric's rows over the span; an evaluation that finds the same span and files as the one before gets the
    same frame back instead of deriving it again from the cached queries.

    Kept in the process (the last frame per metric and bucket), not in the shared cache: the scheduler alone
    computes these, and a key per interval would fill the cache with entries read once.
    """
    metric = METRICS[name]
    if metric.clocked:
        return metric.compute(db, span)
    files = {t: s.fingerprint for t, s in db.sources(metric.tables).items() if s is not None}
    key = (span.start, span.end, files, db.config)  # the settings hold the thresholds its statuses carry
    last = _LAST_FRAMES.get((name, span.bucket_seconds))
    if last is not None and last[0] == key:
        return last[1]
    frame = metric.compute(db, span)
    _LAST_FRAMES[(name, span.bucket_seconds)] = (key, frame)
    return frame


_LAST_FRAMES: dict[tuple[str, int], tuple[tuple, pd.DataFrame]] = {}


def _frame(rows: pd.DataFrame, labels: tuple[str, ...], value: pd.Series) -> pd.DataFrame:
    out = rows[["bucket", *labels]].assign(value=value.to_numpy(dtype=float))
    return out[np.isfinite(out["value"])].reset_index(drop=True)


def _result(result: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """A domain function's result as a metric's rows: bucket, labels, value, and its thresholds and status."""
    out = result[["bucket", *labels, "value", "warning", "critical", "status"]]
    return out[np.isfinite(out["value"].to_numpy(dtype=float))].reset_index(drop=True)


def each_table(
    db: Database, tables: tuple[str, ...], query: str, start: datetime, end: datetime, notes: list[str], **params
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Run a one-table query (`query_table($table)` over its time column in [start, end)) on each table in turn:
    (table, rows) per table read; a missing or unreadable table is named in `notes` instead."""
    for name in tables:
        try:
            rows = db.run_on(name, query, time_column=f"^{TABLES[name].time_column}$", start=start, end=end, **params)
        except DataUnavailable as exc:
            notes.append(f"{name}: {exc.reason}")
            continue
        yield name, rows


def _requests(db: Database, span: Span) -> pd.DataFrame:
    return db.run("ops_requests", **span.params(), bucket=span.bucket_seconds)


def latency_p95(db: Database, span: Span) -> pd.DataFrame:
    rows = db.run("ops_latency_quantiles", **span.params(), bucket=span.bucket_seconds)
    threshold = configured(db.config, "ops.latency_p95_ms")
    return _result(serving.latency_p95(rows, threshold, MIN_REQUESTS), ("model_version",))


def error_rate(db: Database, span: Span) -> pd.DataFrame:
    threshold = configured(db.config, "ops.error_rate")
    return _result(serving.error_rate(_requests(db, span), ("bucket",), threshold, MIN_REQUESTS), ())


def cache_hit_rate(db: Database, span: Span) -> pd.DataFrame:
    threshold = configured(db.config, "ops.cache_hit_rate")
    return _result(serving.cache_hit_rate(_requests(db, span), ("bucket",), threshold, MIN_REQUESTS), ())


def traffic_share(db: Database, span: Span) -> pd.DataFrame:
    return _result(serving.traffic_share(_requests(db, span), MIN_REQUESTS), ("model_version",))


def canary_share(db: Database, span: Span) -> pd.DataFrame:
    """Per bucket served by two versions or more, the share of requests not served by the busiest one."""
    return _result(serving.canary_share(_requests(db, span), MIN_REQUESTS), ())


def accuracy(db: Database, span: Span) -> pd.DataFrame:
    """Accuracy per prediction day and version, from the outcomes that have arrived."""
    counts = db.run("sentiment_confusion", **span.params())
    if counts.empty:
        return pd.DataFrame(columns=["bucket", "model_version", "value"])
    threshold = configured(db.config, "model.accuracy")
    rows = daily_accuracy(counts, ["day", "model_version"], threshold, MIN_OUTCOMES)
    return _result(rows.assign(bucket=pd.to_datetime(rows["day"])), ("model_version",))


def _psi_rows(db: Database, span: Span) -> pd.DataFrame:
    """PSI against the reference per feature and bucket, without high-cardinality text features (IDs):
    over a bucket's rows their PSI follows the sample size, not the data, and weekends would page."""
    rows = drift_over_time(db, Window(span.start, span.end), span.bucket_seconds)
    return rows[~rows["high_cardinality"].astype(bool)].dropna(subset=["psi_reference"])


def feature_psi(db: Database, span: Span) -> pd.DataFrame:
    rows = _psi_rows(db, span)
    return _result(judged(rows.assign(value=rows["psi_reference"]), configured(db.config, "drift.psi")), ("feature",))


def share_drifted(db: Database, span: Span) -> pd.DataFrame:
    """Per bucket, the share of features whose PSI against the reference reaches the drift warning."""
    rows = _psi_rows(db, span)
    rows = rows.assign(drifted=judged(rows, configured(db.config, "drift.psi"), "psi_reference")["status"] != "ok")
    shares = rows.groupby("bucket", as_index=False)["drifted"].mean()
    return _frame(shares, (), shares["drifted"])


def label_kl(db: Database, span: Span) -> pd.DataFrame:
    """Per day, KL(the day's label mix || the reference's), as the Drift page's prediction drift computes it."""
    rows = label_kl_by_day(db, span.params(), configured(db.config, "prediction.label_kl"))
    return _result(rows, ())


def freshness(db: Database, span: Span) -> pd.DataFrame:
    """Per table with an expected cadence and per bucket: minutes from its newest row to the bucket's end."""
    step = timedelta(seconds=span.bucket_seconds)
    starts = pd.date_range(span.start, span.end - timedelta(microseconds=1), freq=step)
    ends = np.minimum(starts + step, pd.Timestamp(span.until))
    parts = []
    # A missing table is the Data quality page's to name; here it has no series.
    for name, rows in each_table(db, CADENCED, "quality_rows", span.start, span.end, [], bucket=span.bucket_seconds):
        newest = rows.set_index("bucket")["newest"].reindex(starts).ffill()  # buckets ordered: newest so far
        if rows.empty:  # nothing in the window: stale since its newest row before it, if it has one
            before = db.data_through(name)
            seed = pd.Timestamp(before) if before is not None and before < span.start else pd.NaT
            newest = pd.Series(seed, index=starts)
        age = (ends - newest.to_numpy()) / timedelta(minutes=1)
        parts.append(pd.DataFrame({"bucket": starts, "table": name, "value": np.asarray(age, dtype=float)}))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["bucket", "table", "value"])
    return _frame(frame, ("table",), frame["value"])


def failure_rate(db: Database, span: Span) -> pd.DataFrame:
    """Per pipeline and bucket of start time, the share of runs that failed."""
    runs = db.run("ops_pipeline_runs", start=span.start, end=span.end)
    if runs.empty:
        return pd.DataFrame(columns=["bucket", "pipeline", "value"])
    runs = runs.assign(
        bucket=pd.to_datetime(runs["started_at"]).dt.floor(f"{span.bucket_seconds}s"),
        failed=runs["status"] == "failed",
    )
    rows = runs.groupby(["bucket", "pipeline"], as_index=False)["failed"].mean()
    return _frame(rows, ("pipeline",), rows["failed"])


def agent_drawdown(db: Database, span: Span) -> pd.DataFrame:
    """Each paper run's drawdown per day, from its peak since the run began (not since `start`)."""
    runs = known_runs(db)
    paper = runs.loc[runs["kind"] == "paper", "run_id"].tolist()
    parts = []
    for run_id, series in load_series(db, paper, None, span.end.date()).items():
        if series.problem:
            continue
        drawdown = drawdown_series(series.returns)
        days = drawdown[drawdown.index >= pd.Timestamp(span.start.date())]
        parts.append(pd.DataFrame({"bucket": days.index, "run_id": run_id, "value": days.to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["bucket", "run_id", "value"])


def missing_by_bucket(db: Database, span: Span) -> pd.DataFrame:
    """Per time-stamped table, bucket and column: rows, and how many miss a value (NULL).

    `required` marks the contract's required columns, `optional` its optional ones (empty by design,
    or absent); the other columns are the log's own (predictions' input features). Tables that are
    missing or unreadable are named in attrs["notes"].
    """
    parts, notes = [], []
    tables = each_table(
        db, TIMED, "quality_completeness_by_bucket", span.start, span.end, notes, bucket=span.bucket_seconds
    )
    for name, counts in tables:
        table = TABLES[name]
        present = counts.melt(id_vars=["bucket", "rows"], var_name="column", value_name="present")
        optional = {c.name for c in table.optional}
        parts.append(
            present.assign(
                table=name,
                required=present["column"].isin(table.required_names),
                optional=present["column"].isin(optional),
                missing=present["rows"] - present["present"],
            )
        )
    columns = ["bucket", "table", "column", "required", "optional", "rows", "missing"]
    frame = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    frame.attrs["notes"] = notes
    return frame


def missing_rate(db: Database, span: Span) -> pd.DataFrame:
    """Per required column of each time-stamped table and bucket with rows, the share of rows without a value."""
    rows = missing_by_bucket(db, span)
    rows = rows[rows["required"].astype(bool) & (rows["rows"] > 0)]
    return _frame(rows, ("table", "column"), rows["missing"] / rows["rows"])


def cardinality_growth(db: Database, span: Span) -> pd.DataFrame:
    """Per high-cardinality text feature (IDs) and bucket: distinct values per distinct value in the reference.

    The drift engine's growth (FeatureDrift.cardinality_growth: distinct values now / in the reference), with both
    samples rarefied to the smaller one's size, so a quiet day with fewer rows than the reference does not look
    like shrinking (stats.cardinality_growth).
    """
    rows = drift_over_time(db, Window(span.start, span.end), span.bucket_seconds)
    rows = rows.dropna(subset=["cardinality_growth"])
    threshold = configured(db.config, "drift.cardinality_growth")
    return _result(judged(rows.assign(value=rows["cardinality_growth"]), threshold), ("feature",))


def _service_usage(db: Database, span: Span) -> pd.DataFrame:
    return db.run("service_usage", start=span.start, end=span.end, bucket=span.bucket_seconds)


def service_up(db: Database, span: Span) -> pd.DataFrame:
    """Per instance and bucket, the share of its samples that found it up."""
    rows = _service_usage(db, span)
    return _frame(rows, ("service", "instance"), rows["up_samples"] / rows["samples"])


def service_cpu(db: Database, span: Span) -> pd.DataFrame:
    rows = _service_usage(db, span)
    return _frame(rows, ("service", "instance"), rows["cpu_pct"])


def service_memory(db: Database, span: Span) -> pd.DataFrame:
    rows = _service_usage(db, span)
    return _frame(rows, ("service", "instance"), rows["memory_pct"])


def slo_burn(tier: str) -> Callable[[Database, Span], pd.DataFrame]:
    """Per objective, service and bucket: the highest burn rate that both of the tier's windows reach at a 5-minute
    step ending in the bucket (min of the two windows; the SRE workbook's multiwindow condition).

    The steps stay 5 minutes whatever the rule's bucket, so a 15-minute bucket still sees a 5-minute burst; the
    bucket only sets how many states the alert keeps. Accuracy is left out: its outcomes arrive up to a day late,
    so an hour's accuracy is not settled; the low_accuracy rule watches it per day.
    """
    long, short = TIERS[tier]

    def compute(db: Database, span: Span) -> pd.DataFrame:
        events = stream_events(db, span.start - long, span.end, int(STEP.total_seconds()))
        parts = [
            multiwindow_burn(events, objective, long, short, STEP).assign(slo=objective.slo)
            for objective in objectives(db.config).values()
            if not objective.daily
        ]
        steps = pd.concat(parts, ignore_index=True)
        steps = steps.assign(bucket=pd.to_datetime(steps["bucket"]))
        steps = steps[steps["bucket"] >= span.start]
        rows = (
            steps.assign(bucket=steps["bucket"].dt.floor(f"{span.bucket_seconds}s"))
            .groupby(["bucket", "slo", "service"], as_index=False)["value"]
            .max()
        )
        return _frame(rows, ("slo", "service"), rows["value"])

    compute.__doc__ = f"{tier} burn: the {long} and {short} windows"
    return compute


SUB_DAY = ("5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d")
HOURS = ("1h", "3h", "6h", "12h", "1d")  # drift needs 100 values a bucket; pipelines run a few times a day
DAILY = ("1d",)
OPS, OUTCOMES, DRIFT = ("predictions",), ("predictions", "outcomes"), ("predictions", "reference")
RUNS, PIPELINES = ("backtest_runs", "backtest_returns"), ("pipeline_runs",)
SERVICES, SLO_STREAMS = ("service_metrics",), ("service_metrics", "predictions")
BURN_BUCKETS = ("5m", "15m", "30m", "1h")
INSTANCE = ("service", "instance")
CADENCED = tuple(name for name, table in TABLES.items() if table.cadence)
TIMED = tuple(name for name, table in TABLES.items() if table.time_column)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("ops.latency_p95_ms", ("model_version",), "/operations", SUB_DAY, latency_p95, "p95 latency", OPS),
        Metric("ops.error_rate", (), "/operations", SUB_DAY, error_rate, "share of requests answered 5xx", OPS),
        Metric("ops.cache_hit_rate", (), "/operations", SUB_DAY, cache_hit_rate, "feature-store hits per lookup", OPS),
        Metric("ab.traffic_share", ("model_version",), "/operations", SUB_DAY, traffic_share, "requests' share", OPS),
        Metric("ab.canary_share", (), "/operations", SUB_DAY, canary_share, "share not served by the busiest", OPS),
        Metric(
            "model.accuracy",
            ("model_version",),
            "/sentiment",
            DAILY,
            accuracy,
            "accuracy per day",
            OUTCOMES,
            settle=LATE_OUTCOMES,
        ),
        Metric("drift.psi", ("feature",), "/drift", HOURS, feature_psi, "PSI against the reference", DRIFT),
        Metric("drift.share_drifted", (), "/drift", HOURS, share_drifted, "share of features at the warning", DRIFT),
        Metric("prediction.label_kl", (), "/drift", DAILY, label_kl, "KL of the label mix from the reference", DRIFT),
        Metric(
            "data.freshness_minutes",
            ("table",),
            "/quality",
            SUB_DAY,
            freshness,
            "time since the newest row",
            CADENCED,
            clocked=True,
        ),
        Metric("pipeline.failure_rate", ("pipeline",), "/operations", HOURS, failure_rate, "failed runs", PIPELINES),
        Metric(
            "agent.drawdown",
            ("run_id",),
            "/backtests",
            DAILY,
            agent_drawdown,
            "paper run's drawdown (≤ 0)",
            RUNS,
            settle=timedelta(days=1),  # a day's return is logged after the close
        ),
        Metric(
            "quality.missing_rate", ("table", "column"), "/quality", HOURS, missing_rate, "rows without a value", TIMED
        ),
        Metric("service.up", INSTANCE, "/operations", SUB_DAY, service_up, "share of samples up", SERVICES),
        Metric("service.cpu_pct", INSTANCE, "/operations", SUB_DAY, service_cpu, "mean CPU use", SERVICES),
        Metric("service.memory_pct", INSTANCE, "/operations", SUB_DAY, service_memory, "mean memory use", SERVICES),
        Metric(
            "slo.burn_fast",
            ("slo", "service"),
            "/operations",
            BURN_BUCKETS,
            slo_burn("fast"),
            "error-budget burn rate over both the last hour and the last 5 minutes",
            SLO_STREAMS,
        ),
        Metric(
            "slo.burn_medium",
            ("slo", "service"),
            "/operations",
            BURN_BUCKETS,
            slo_burn("medium"),
            "error-budget burn rate over both the last 6 hours and the last 30 minutes",
            SLO_STREAMS,
        ),
        Metric(
            "slo.burn_slow",
            ("slo", "service"),
            "/operations",
            BURN_BUCKETS + ("3h", "6h"),
            slo_burn("slow"),
            "error-budget burn rate over both the last 3 days and the last 6 hours",
            SLO_STREAMS,
        ),
        Metric(
            "drift.cardinality_growth",
            ("feature",),
            "/drift",
            HOURS,
            cardinality_growth,
            "distinct values per distinct value in the reference",
            DRIFT,
        ),
    )
}
